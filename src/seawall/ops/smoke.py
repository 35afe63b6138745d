"""`seawall smoke`: the stack file's smoke checks, run at once, each exercising the data path."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pymysql
import redis.asyncio as aredis
import redis.exceptions as rex
from psycopg import sql
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from seawall import clock
from seawall.config import SmokeCheck, StackConfig
from seawall.config.probes import CommandCheck, SqlWriteRead
from seawall.errors import ConfigError
from seawall.ops._datastores import (
    close_quietly,
    describe_mysql_error,
    describe_pg_error,
    describe_redis_error,
    mysql_connect,
    mysql_table,
    pg_connect,
    pg_table,
)
from seawall.ops._report import CheckReport
from seawall.probes.command import CommandProbe
from seawall.probes.http import HttpProbe
from seawall.probes.outcome import shorten, timed_out
from seawall.probes.result import Status

SQLITE_TABLE = "seawall_smoke"
_PG_CREATE = sql.SQL("CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, value text, at timestamp)")
_PG_INSERT = sql.SQL("INSERT INTO {} (id, value, at) VALUES (%s, %s, now())")
_PG_SELECT = sql.SQL("SELECT value FROM {} WHERE id = %s")
_PG_DELETE = sql.SQL("DELETE FROM {} WHERE id = %s")
_SQLITE_CREATE = f"CREATE TABLE IF NOT EXISTS {SQLITE_TABLE} (id TEXT PRIMARY KEY, value TEXT, at TIMESTAMP)"
_SQLITE_INSERT = f"INSERT INTO {SQLITE_TABLE} (id, value, at) VALUES (?, ?, CURRENT_TIMESTAMP)"


@dataclass(frozen=True, slots=True)
class SmokeResult:
    """One smoke check: whether it passed, how long it took, and what it saw."""

    name: str
    kind: str
    passed: bool
    latency: float
    detail: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "latency": round(self.latency, 6),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class SmokeReport(CheckReport[SmokeResult]):
    """Every smoke check of a stack, in config order."""

    stack: str
    results: list[SmokeResult] = field(default_factory=list)
    seconds: float = 0.0

    def _entries(self) -> list[SmokeResult]:
        return self.results

    def _fails(self, entry: SmokeResult) -> bool:
        return not entry.passed

    @property
    def summary(self) -> str:
        """ "N/M checks passed"."""
        if not self.results:
            return "no smoke checks in the stack file"
        passed = len(self.results) - len(self.failed)
        return f"{passed}/{len(self.results)} checks passed"

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return self._envelope(
            "results", summary=self.summary, passed=not self.failed, seconds=round(self.seconds, 3)
        )


class _Failed(Exception):
    """A smoke check failed; the message is its detail."""


def run_smoke(stack: StackConfig) -> SmokeReport:
    """Run every smoke check concurrently, each under its own timeout."""
    began = clock.monotonic()
    results = asyncio.run(_run_all(stack))
    return SmokeReport(stack.stack, results, clock.monotonic() - began)


async def _run_all(stack: StackConfig) -> list[SmokeResult]:
    return list(await asyncio.gather(*(run_check(stack, check) for check in stack.smoke)))


async def run_check(stack: StackConfig, check: SmokeCheck) -> SmokeResult:
    """Run one smoke check; every failure, timeout included, becomes a failed result."""
    began = clock.monotonic()
    try:
        detail = await asyncio.wait_for(_RUNNERS[check.kind](stack, check), timeout=check.timeout)
    except TimeoutError:
        return SmokeResult(check.name, check.kind, False, clock.monotonic() - began, timed_out(check.timeout))
    except _Failed as exc:
        return SmokeResult(check.name, check.kind, False, clock.monotonic() - began, str(exc))
    except ConfigError as exc:  # e.g. a malformed MySQL URL: the check cannot run as written
        return SmokeResult(check.name, check.kind, False, clock.monotonic() - began, exc.message)
    return SmokeResult(check.name, check.kind, True, clock.monotonic() - began, detail)


async def _http(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.http is not None
    result = await HttpProbe(check.http, check.timeout)()
    if result.status is Status.FAIL:
        raise _Failed(result.detail)
    return result.detail


async def _command(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.command is not None
    cwd = stack.resolve(check.command.cwd or ".")
    result = await CommandProbe(CommandCheck(argv=check.command.argv, cwd=str(cwd)))()
    if result.status is Status.FAIL:
        raise _Failed(result.detail)
    return result.detail


def _token() -> str:
    return "smoke-" + secrets.token_hex(8)


def _compare(table: str, wrote: str, read: object) -> str:
    if read != wrote:
        raise _Failed(shorten(f"read back {read!r} from {table}, expected {wrote!r}"))
    return f"wrote and read back a row in {table}"


async def _postgres(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.postgres is not None
    return await asyncio.to_thread(_postgres_round_trip, check.postgres, check.timeout)


def _postgres_round_trip(spec: SqlWriteRead, timeout: float) -> str:
    table, key, value = pg_table(spec.table), _token(), _token()
    try:
        with pg_connect(spec.url, timeout) as conn:
            conn.execute(_PG_CREATE.format(table))
            conn.execute(_PG_INSERT.format(table), (key, value))
            row = conn.execute(_PG_SELECT.format(table), (key,)).fetchone()
            conn.execute(_PG_DELETE.format(table), (key,))
    except psycopg.Error as exc:
        raise _Failed(describe_pg_error(exc, spec.url)) from exc
    return _compare(spec.table, value, row[0] if row else None)


async def _mysql(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.mysql is not None
    return await asyncio.to_thread(_mysql_round_trip, check.mysql, check.timeout)


def _mysql_round_trip(spec: SqlWriteRead, timeout: float) -> str:
    table, key, value = mysql_table(spec.table), _token(), _token()
    try:
        conn = mysql_connect(spec.url, timeout)
        try:
            with conn.cursor() as cursor:
                # MySQL cannot index an unbounded TEXT column, so the key is a VARCHAR
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {table}"
                    " (id VARCHAR(64) PRIMARY KEY, value TEXT, at TIMESTAMP NULL)"
                )
                cursor.execute(
                    f"INSERT INTO {table} (id, value, at) VALUES (%s, %s, CURRENT_TIMESTAMP)", (key, value)
                )
                cursor.execute(f"SELECT value FROM {table} WHERE id = %s", (key,))
                row = cursor.fetchone()
                cursor.execute(f"DELETE FROM {table} WHERE id = %s", (key,))
        finally:
            close_quietly(conn)
    except pymysql.MySQLError as exc:
        raise _Failed(describe_mysql_error(exc, spec.url, timeout)) from exc
    return _compare(spec.table, value, row[0] if row else None)


async def _sqlite(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.sqlite is not None
    return await asyncio.to_thread(_sqlite_round_trip, stack.resolve(check.sqlite), check.timeout)


def _sqlite_round_trip(path: Path, timeout: float) -> str:
    # A missing file means a wrong path or lost data; creating an empty database would hide both.
    if not path.is_file():
        raise _Failed(f"database file not found: {path}")
    key, value = _token(), _token()
    try:
        # mode=rw: never create the file, even if it disappears after the check above
        with contextlib.closing(
            sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout)
        ) as conn:
            with conn:
                conn.execute(_SQLITE_CREATE)
                conn.execute(_SQLITE_INSERT, (key, value))
            row = conn.execute(f"SELECT value FROM {SQLITE_TABLE} WHERE id = ?", (key,)).fetchone()
            with conn:
                conn.execute(f"DELETE FROM {SQLITE_TABLE} WHERE id = ?", (key,))
    except sqlite3.Error as exc:
        raise _Failed(shorten(f"{path.name}: {exc}")) from exc
    return _compare(SQLITE_TABLE, value, row[0] if row else None)


async def _redis(stack: StackConfig, check: SmokeCheck) -> str:
    assert check.redis is not None
    url = check.redis.url
    key, value = f"seawall:smoke:{_token()}", _token()
    client = aredis.from_url(
        url,
        socket_timeout=check.timeout,
        socket_connect_timeout=check.timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        # the expiry removes the key even if this check dies before its DEL
        await client.set(key, value, ex=60)
        read = await client.get(key)
        await client.delete(key)
    except rex.RedisError as exc:
        raise _Failed(describe_redis_error(exc, url, check.timeout)) from exc
    finally:
        await client.aclose()
    got = read.decode(errors="replace") if isinstance(read, bytes) else read
    if got != value:
        raise _Failed(shorten(f"read back {got!r}, expected {value!r}"))
    return "SET, GET and DEL round trip ok"


_RUNNERS: dict[str, Callable[[StackConfig, SmokeCheck], Awaitable[str]]] = {
    "http": _http,
    "command": _command,
    "postgres": _postgres,
    "mysql": _mysql,
    "sqlite": _sqlite,
    "redis": _redis,
}
