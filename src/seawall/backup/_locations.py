"""What ``restore --to`` may name, checked before anything is read or written.

A restore empties its target first, so a mistyped ``--to`` must fail on its spelling: a Redis URL
that parses as nothing would otherwise reach the default server on 127.0.0.1:6379 and FLUSHALL it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from seawall.backup.sources.base import SERVER_KINDS
from seawall.config import StackConfig
from seawall.errors import SeawallError, UsageError
from seawall.probes.mysql import MysqlTarget
from seawall.probes.redact import redact_url

_EXAMPLES = {
    "postgres": "postgresql://user@host:5432/dbname",
    "mysql": "mysql://user@host:3306/dbname",
    "redis": "redis://host:6379",
}


def _bad(kind: str, location: str, why: str) -> UsageError:
    return UsageError(
        f"--to {redact_url(location)!r} is not a {kind} target: {why}",
        hint=f"for a {kind} datastore, --to takes a URL such as {_EXAMPLES[kind]}",
    )


def _check_url(kind: str, location: str) -> None:
    if kind == "postgres":
        try:  # a URL or libpq's key=value form, as pg_restore -d takes
            database = conninfo_to_dict(location).get("dbname")
        except psycopg.Error as exc:
            raise _bad(kind, location, str(exc).strip()) from None
    elif kind == "mysql":
        try:
            database = MysqlTarget.from_url(location).database
        except SeawallError as exc:
            raise _bad(kind, location, exc.message) from None
    else:
        parts = urlsplit(location)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise _bad(kind, location, "it needs the redis:// or rediss:// scheme and a host")
        db = parse_qs(parts.query).get("db", [parts.path.strip("/")])[0]
        if db not in ("", "0"):
            why = "leave out the database number: a backup is restored into the database it was taken from"
            raise _bad(kind, location, why)
        return
    if not database:
        raise _bad(kind, location, "it names no database")


def _own_paths(stack: StackConfig) -> list[tuple[Path, str]]:
    own = [(stack.root.resolve(), "the stack directory")]
    own.append((stack.state_dir.resolve(), "Seawall's state directory"))
    if "://" not in stack.backup.repository:
        own.append((stack.resolve(stack.backup.repository).resolve(), "the backup repository"))
    return own


def _check_path(stack: StackConfig, kind: str, path: Path) -> None:
    if kind == "sqlite" and path.is_dir():
        raise UsageError(f"--to {path} is a directory; a sqlite target is a database file")
    if kind != "sqlite" and path.exists() and not path.is_dir():
        raise UsageError(f"--to {path} is a file; a {kind} target is a directory")
    for own, what in _own_paths(stack):
        inside_own = path.is_relative_to(own) and own != stack.root.resolve()
        if inside_own or (kind != "sqlite" and own.is_relative_to(path)):
            raise UsageError(
                f"--to {path} would overwrite {what} ({own})",
                hint="restore into a directory of its own, outside the stack's directory",
            )


def checked_location(stack: StackConfig, kind: str, location: str) -> None:
    """UsageError saying what is wrong with ``location`` unless it can be a ``kind`` target."""
    if kind in SERVER_KINDS:
        _check_url(kind, location)
    else:
        _check_path(stack, kind, Path(location).expanduser().resolve())


__all__ = ["checked_location"]
