"""Cutting clients off a datastore server the stack does not run, and letting them back in.

- PostgreSQL: ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` (every role is refused, superusers
  too) and the database's open sessions are terminated; back with ``ALLOW_CONNECTIONS true``.
- Redis: the default user's password becomes the fault's token (``CONFIG SET requirepass``) and
  every client connection is killed, so clients are refused with NOAUTH; back by setting the
  password the datastore URL carries (none if it carries none).
- MySQL/MariaDB: refused. It has no per-database switch, and locking the URL's account would also
  lock out the inverse that has to unlock it.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from redis.backoff import NoBackoff
from redis.retry import Retry

from seawall.config import DatastoreSpec
from seawall.probes.redact import redact, secrets_of

TIMEOUT = 5.0
REVOCABLE = ("postgres", "redis")


class AccessError(Exception):
    """The server could not be told to refuse, or to accept, the datastore's clients (no password in it)."""


def check_revocable(spec: DatastoreSpec) -> None:
    """ValueError when clients of this datastore cannot be cut off without stopping its server."""
    if spec.kind == "mysql":
        raise ValueError(
            "a mysql datastore that the stack does not run cannot be made unavailable (MySQL has no "
            "per-database switch, and locking its account would lock out the restore): run the server "
            "as a component of the stack (how: stop), or use datastore_empty"
        )
    if spec.kind not in REVOCABLE:
        raise ValueError(f"a {spec.kind} datastore cannot be made unavailable this way")
    if spec.kind == "redis":
        user = urlsplit(spec.url or "").username
        if user and unquote(user) != "default":
            raise ValueError(
                f"the redis URL names the ACL user {unquote(user)!r}: only the default user's "
                "password can be changed and put back"
            )


def _postgres(url: str, allow: bool) -> str:
    from seawall.ops._datastores import pg_connect

    name = str(conninfo_to_dict(url).get("dbname") or "")
    if not name:
        raise ValueError("the postgres URL names no database")
    maintenance = "template1" if name == "postgres" else "postgres"
    with pg_connect(make_conninfo(url, dbname=maintenance), TIMEOUT) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allow else "false")
            )
        )
        if allow:
            return f"database {name} accepts connections again"
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    ended = int(str(row[0])) if row else 0
    return f"database {name} refuses connections ({ended} session{'s' * (ended != 1)} ended)"


def _redis_client(url: str, password: str | None) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        password=password,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def _redis(url: str, token: str, allow: bool) -> str:
    original = urlsplit(url).password
    original = unquote(original) if original else None
    if not allow:
        client = _redis_client(url, original)
        with client:
            client.config_set("requirepass", token)
            # existing connections stay authenticated: end them (this one is skipped)
            killed = sum(int(client.client_kill_filter(_type=t, skipme=True)) for t in ("normal", "pubsub"))
        return f"redis requires a password its clients do not have ({killed} connections ended)"
    try:
        client = _redis_client(url, original)
        with client:
            client.ping()
        return "redis accepts its clients"  # never revoked, or already given back
    except (redis.AuthenticationError, redis.ResponseError):
        pass  # NOAUTH or WRONGPASS: the fault's password is in place
    client = _redis_client(url, token)
    with client:
        client.config_set("requirepass", original or "")
    return "redis accepts its clients again"


def _switch(spec: DatastoreSpec, token: str, allow: bool) -> str:
    check_revocable(spec)
    url = spec.url or ""
    try:
        return _postgres(url, allow) if spec.kind == "postgres" else _redis(url, token, allow)
    except (psycopg.Error, redis.RedisError, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AccessError(redact(text, secrets_of(url))) from exc


def revoke(spec: DatastoreSpec, token: str) -> str:
    """Cut every client off the datastore; ValueError if it cannot be (``check_revocable``)."""
    return _switch(spec, token, allow=False)


def allow(spec: DatastoreSpec, token: str) -> str:
    """Let clients back in; a no-op when they were never cut off, so safe to repeat."""
    return _switch(spec, token, allow=True)


__all__ = ["REVOCABLE", "AccessError", "allow", "check_revocable", "revoke"]
