"""Connections to datastore servers (PostgreSQL, MySQL/MariaDB, Redis) and short, password-free error text."""

from __future__ import annotations

import math
import re

import psycopg
import pymysql
import pymysql.connections
import redis.exceptions as rex
from psycopg import sql

from seawall.probes.mysql import MysqlTarget
from seawall.probes.outcome import describe_os_error, shorten, timed_out
from seawall.probes.redact import redact, secrets_of

# libpq wraps the server's reason in context that says nothing a reader needs twice
_PG_NOISE = re.compile(
    r'^(connection failed: )?(connection to server at "[^"]*"(, port \d+)? failed: )?(FATAL: +)?'
)


def pg_connect(url: str, timeout: float) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection whose connect and every statement are bounded by ``timeout``."""
    # libpq takes whole seconds and treats anything under 2 as 2
    connect_timeout = max(2, math.ceil(timeout))
    statement_ms = max(1, int(timeout * 1000))
    return psycopg.connect(
        url,
        connect_timeout=connect_timeout,
        autocommit=True,
        options=f"-c statement_timeout={statement_ms}",
    )


def pg_table(name: str) -> sql.Composed:
    """A possibly schema-qualified table name ("app.smoke"), quoted as identifiers."""
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


def describe_pg_error(exc: psycopg.Error, url: str) -> str:
    """The server's reason without libpq's wrapping and without the URL's password."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    reason = _PG_NOISE.sub("", first)
    if reason.lower().startswith("connection refused"):
        reason = "connection refused"
    return redact(shorten(reason), secrets_of(url))


def mysql_connect(url: str, timeout: float) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    """An autocommit connection from a mysql:// or mariadb:// URL (ConfigError if the URL is bad)."""
    return MysqlTarget.from_url(url).connect(timeout, autocommit=True)


def mysql_table(name: str) -> str:
    """A possibly schema-qualified table name, quoted with backticks."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split("."))


def describe_mysql_error(exc: pymysql.MySQLError, url: str, timeout: float) -> str:
    """The server's message, or a short phrase for a network failure, without the password."""
    target = MysqlTarget.from_url(url)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, TimeoutError):
        text = timed_out(timeout)
    elif isinstance(cause, OSError):
        text = describe_os_error(cause, target.host)
    elif len(exc.args) >= 2 and isinstance(exc.args[1], str):
        text = shorten(exc.args[1])  # args are (error code, server message)
    else:
        text = shorten(str(exc) or type(exc).__name__)
    return redact(text, (*secrets_of(url), target.password))


def close_quietly(conn: pymysql.connections.Connection[pymysql.cursors.Cursor]) -> None:
    """Close a PyMySQL connection unless a timeout already closed it (closing twice raises)."""
    if conn.open:
        conn.close()


def describe_redis_error(exc: rex.RedisError, url: str, timeout: float) -> str:
    """A short phrase for a Redis failure (refused, timed out, auth), without the password."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, rex.TimeoutError):
        text = timed_out(timeout)
    elif isinstance(exc, rex.ConnectionError) and isinstance(cause, OSError):
        text = describe_os_error(cause)
    else:
        text = shorten(str(exc) or type(exc).__name__)
    return redact(text, secrets_of(url))
