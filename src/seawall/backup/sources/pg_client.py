"""Reaching PostgreSQL: connections, errors without secrets, and the client tools of the server's version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seawall.backup.errors import BackupError
from seawall.backup.procs import find_tool, run_tool
from seawall.probes.redact import redact, secrets_of

_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
}


def pg_error(exc: psycopg.Error, url: str, doing: str) -> BackupError:
    """A psycopg error as one line, with the URL's secrets masked."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BackupError(f"PostgreSQL {doing}: {redact(first, secrets_of(url))}")


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database (URLs stay URLs, so they can be redacted)."""
    if "://" in url:
        return urlunsplit(urlsplit(url)._replace(path="/" + name))
    return make_conninfo(url, dbname=name)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection (10 s to connect), or BackupError."""
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.Error as exc:
        raise pg_error(exc, url, "connection failed") from exc


def tool_env(url: str, dbname: str | None = None) -> dict[str, str]:
    """libpq environment for the client tools: the password never appears in argv."""
    params = conninfo_to_dict(url)
    if dbname is not None:
        params["dbname"] = dbname
    return {_ENV[k]: str(v) for k, v in params.items() if k in _ENV and v is not None}


def tool_major(version: str) -> int:
    """The major version in a tool's ``--version`` line (0 if none)."""
    # "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)": the first number after the name
    match = re.search(r"\)\s+(\d+)", version) or re.search(r"(\d+)\.\d+", version)
    return int(match.group(1)) if match else 0


def client_tool(name: str, server_major: int) -> tuple[str, str]:
    """The tool of the server's major version (Debian keeps each in its own directory)."""
    versioned = Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")
    path = str(versioned) if versioned.is_file() else find_tool(name)
    version = run_tool([path, "--version"]).strip()
    major = tool_major(version)
    if major < server_major:
        raise BackupError(
            f"{name} {major} is older than the server's major version {server_major}",
            hint=f"install the PostgreSQL {server_major} client tools (postgresql-client-{server_major})",
        )
    return path, version


__all__ = ["client_tool", "connect", "pg_error", "tool_env", "tool_major", "with_database"]
