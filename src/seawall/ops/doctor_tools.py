"""Doctor's tool checks: the dump tools each datastore needs, and their versions against the servers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
import pymysql

from seawall.config import StackConfig
from seawall.errors import ConfigError
from seawall.ops._datastores import (
    close_quietly,
    describe_mysql_error,
    describe_pg_error,
    mysql_connect,
    pg_connect,
)
from seawall.ops.doctor_checks import Check

TIMEOUT = 3.0

# Each entry is a group of alternatives: any one of them on PATH satisfies it.
TOOLS: dict[str, list[tuple[str, ...]]] = {
    "postgres": [("pg_dump",), ("pg_restore",), ("psql",)],
    "mysql": [("mariadb-dump", "mysqldump")],
    "redis": [("redis-cli",)],
}
INSTALL_HINTS = {
    "postgres": "install the PostgreSQL client tools (Debian: apt install postgresql-client)",
    "mysql": "install the MariaDB client tools (Debian: apt install mariadb-client)",
    "redis": "install the Redis tools (Debian: apt install redis-tools)",
}
_PG_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
# MariaDB's tools print their own version after "Ver" and the server's after "Distrib"
_MYSQL_DISTRIB = re.compile(r"Distrib\s+(\d+)\.(\d+)")
_MYSQL_VER = re.compile(r"Ver\s+(\d+)\.(\d+)")
_LEADING_VERSION = re.compile(r"^(\d+)\.(\d+)")

Version = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Found:
    """A tool group resolved on PATH."""

    kind: str
    group: tuple[str, ...]
    path: str | None
    users: tuple[str, ...]


def pg_tool_major(text: str) -> Version | None:
    """The major version from `pg_dump --version` output: (15,) for 15.2, (9, 6) for 9.6.0."""
    match = _PG_TOOL_VERSION.search(text)
    if not match:
        return None
    major = int(match.group(1))
    # before PostgreSQL 10 the major version had two parts
    return (major,) if major >= 10 else (major, int(match.group(2) or 0))


def pg_server_major(version_num: int) -> Version:
    """The major version from server_version_num: 150002 -> (15,), 90624 -> (9, 6)."""
    return (
        (version_num // 10000,) if version_num >= 100000 else (version_num // 10000, version_num // 100 % 100)
    )


def mysql_tool_version(text: str) -> Version | None:
    """(major, minor) of the server a mariadb-dump / mysqldump belongs to."""
    match = _MYSQL_DISTRIB.search(text) or _MYSQL_VER.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def dotted(version: Version) -> str:
    """(9, 6) -> '9.6'."""
    return ".".join(str(part) for part in version)


def tool_checks(stack: StackConfig, environ: Mapping[str, str]) -> list[Check]:
    """Each tool the datastores need is on PATH; then each tool's version against its server."""
    path = environ.get("PATH", os.defpath)
    found = _resolve(stack, path)
    checks: list[Check] = []
    for f in found:
        label = " or ".join(f.group)
        users = ", ".join(f.users)
        if f.path is None:
            detail = f"{label} not found on PATH (needed to back up {users})"
            checks.append(Check(f"tool {f.group[0]}", "fail", detail, INSTALL_HINTS[f.kind]))
        else:
            checks.append(Check(f"tool {f.group[0]}", "ok", f"{f.path} (for {users})"))
    tools = {f.group[0]: f.path for f in found}
    for name, comp in stack.components.items():
        store = comp.datastore
        if store is None or not store.url:
            continue
        if store.kind == "postgres" and tools.get("pg_dump"):
            checks.append(pg_version_check(name, store.url, tools["pg_dump"] or "", environ))
        elif store.kind == "mysql" and tools.get("mariadb-dump"):
            checks.append(mysql_version_check(name, store.url, tools["mariadb-dump"] or "", environ))
    return checks


def _resolve(stack: StackConfig, path: str) -> list[_Found]:
    users: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name, comp in stack.components.items():
        if comp.datastore is not None:
            for group in TOOLS.get(comp.datastore.kind, []):
                users.setdefault((comp.datastore.kind, group), []).append(name)
    found: list[_Found] = []
    for (kind, group), names in users.items():
        where = next((p for tool in group if (p := shutil.which(tool, path=path))), None)
        found.append(_Found(kind, group, where, tuple(names)))
    return found


def tool_output(tool: str, environ: Mapping[str, str]) -> str:
    """What `tool --version` prints (empty if it cannot run)."""
    try:
        done = subprocess.run(
            [tool, "--version"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=dict(environ),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def pg_version_check(component: str, url: str, tool: str, environ: Mapping[str, str]) -> Check:
    """pg_dump cannot dump a server newer than itself: older fails, newer is fine."""
    name = f"pg_dump vs {component}"
    tool_version = pg_tool_major(tool_output(tool, environ))
    if tool_version is None:
        return Check(name, "warn", f"cannot tell the version of {tool}")
    try:
        with pg_connect(url, TIMEOUT) as conn:
            row = conn.execute(b"SHOW server_version_num").fetchone()
    except psycopg.Error as exc:
        reason = describe_pg_error(exc, url)
        return Check(
            name,
            "warn",
            f"server unreachable ({reason}); pg_dump {dotted(tool_version)} not compared",
            "start the database (`seawall up`) and run doctor again",
        )
    server = pg_server_major(int(str(row[0]))) if row else (0,)
    versions = f"pg_dump {dotted(tool_version)}, server {dotted(server)}"
    if tool_version < server:
        return Check(
            name,
            "fail",
            f"{versions}: pg_dump is older than the server and cannot dump it",
            f"install the PostgreSQL {dotted(server)} client tools and put them first on PATH",
        )
    return Check(name, "ok", versions)


def mysql_version_check(component: str, url: str, tool: str, environ: Mapping[str, str]) -> Check:
    """A dump tool from another server version usually works, but deserves a warning."""
    base = os.path.basename(tool)
    name = f"{base} vs {component}"
    tool_version = mysql_tool_version(tool_output(tool, environ))
    if tool_version is None:
        return Check(name, "warn", f"cannot tell the version of {tool}")
    try:
        conn = mysql_connect(url, TIMEOUT)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                row = cursor.fetchone()
        finally:
            close_quietly(conn)
    except ConfigError as exc:
        return Check(name, "fail", exc.message)
    except pymysql.MySQLError as exc:
        reason = describe_mysql_error(exc, url, TIMEOUT)
        return Check(
            name,
            "warn",
            f"server unreachable ({reason}); {base} {dotted(tool_version)} not compared",
            "start the database (`seawall up`) and run doctor again",
        )
    match = _LEADING_VERSION.match(str(row[0]) if row else "")
    if match is None:
        return Check(name, "warn", f"cannot tell the server's version from {row!r}")
    server = (int(match.group(1)), int(match.group(2)))
    versions = f"{base} {dotted(tool_version)}, server {dotted(server)}"
    if tool_version != server:
        return Check(
            name, "warn", f"{versions}: versions differ", "use the dump tool of the server's version"
        )
    return Check(name, "ok", versions)
