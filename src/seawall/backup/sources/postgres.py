"""PostgreSQL, logical: pg_dump custom format from an exported snapshot, pg_restore with exit-on-error.

Roles are not dumped (no ``pg_dumpall --globals-only``): a restore into the original server keeps
owners and privileges, because the roles are still there; a verification restore into a scratch
database uses ``--no-owner --no-privileges``, which proves the data, not the grants.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seawall.backup.errors import BackupError
from seawall.backup.procs import Proc, find_tool, run_tool
from seawall.backup.sources.base import DumpInfo, Target
from seawall.probes.redact import redact, secrets_of

LOCK_WAIT_TIMEOUT = "30s"
_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
}
_FINGERPRINT_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
    ORDER BY 1, 2"""


def _error(exc: psycopg.Error, url: str, doing: str) -> BackupError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BackupError(f"PostgreSQL {doing}: {redact(first, secrets_of(url))}")


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database (URLs stay URLs, so they can be redacted)."""
    if "://" in url:
        return urlunsplit(urlsplit(url)._replace(path="/" + name))
    return make_conninfo(url, dbname=name)


def _connect(url: str, **kwargs: Any) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        return psycopg.connect(url, connect_timeout=10, **kwargs)
    except psycopg.Error as exc:
        raise _error(exc, url, "connection failed") from exc


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


FINGERPRINT_METHOD = "pg-hash-2"
_BY_RECORD = "sum(hash_record_extended(t, 0))"  # column by column with each type's hash: no text
_BY_TEXT = "sum(hashtextextended(t::text, 0))"  # types without an extended hash (json, point, ...)
_BY_MD5 = "sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric)"  # format 1
_AGGREGATES = {"record": _BY_RECORD, "text": _BY_TEXT, "md5": _BY_MD5}


def _table_hash(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Composable, via: str
) -> tuple[int, int]:
    query = sql.SQL("SELECT count(*), coalesce({}, 0) FROM {} t").format(sql.SQL(_AGGREGATES[via]), table)
    count, total = conn.execute(query).fetchone() or (0, 0)
    return int(count), int(total)


def fingerprint_conn(
    conn: psycopg.Connection[tuple[Any, ...]], like: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per table: row count and an order-independent sum of 64-bit row hashes, one server-side scan.

    Rows are hashed by ``hash_record_extended`` (PostgreSQL 14+: each column with its type's own
    hash function, no text conversion) or, for a table with a column type that has no extended hash,
    by ``hashtextextended(row::text)``; which one is recorded per table (``via``). ``like`` is the
    fingerprint recorded at backup time: its methods are used, so restores of backups made before
    this format (md5 of the row text, no ``method`` key) still compare.
    """
    legacy = like is not None and like.get("method") != FINGERPRINT_METHOD
    recorded = (like or {}).get("tables", {})
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    tables: dict[str, Any] = {}
    for schema, name in conn.execute(_FINGERPRINT_TABLES).fetchall():
        key, ident = f"{schema}.{name}", sql.Identifier(schema, name)
        if legacy:
            count, total = _table_hash(conn, ident, "md5")
            tables[key] = {"rows": count, "hash": str(total)}
            continue
        via = str(recorded.get(key, {}).get("via") or ("record" if version >= 140000 else "text"))
        if via == "record" and key not in recorded:
            try:
                with conn.transaction():  # a savepoint: a type without an extended hash falls back
                    count, total = _table_hash(conn, ident, via)
            except psycopg.errors.UndefinedFunction:
                via = "text"
                count, total = _table_hash(conn, ident, via)
        else:
            count, total = _table_hash(conn, ident, via)
        tables[key] = {"rows": count, "hash": str(total), "via": via}
    if legacy:
        return {"tables": tables}
    return {"method": FINGERPRINT_METHOD, "tables": tables}


@dataclass
class _PgDump:
    proc: Proc
    conn: psycopg.Connection[tuple[Any, ...]]
    url: str
    info: DumpInfo
    size_hint: int | None
    result: dict[str, Any] = field(default_factory=dict)
    error: list[BaseException] = field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def stream(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def start_fingerprint(self) -> None:
        def run() -> None:
            try:
                self.result.update(fingerprint_conn(self.conn))
            except BaseException as exc:
                self.error.append(exc)

        self.thread = threading.Thread(target=run, name="seawall-pg-fingerprint", daemon=True)
        self.thread.start()

    def finish(self) -> DumpInfo:
        self.proc.finish()
        if self.thread is not None:
            self.thread.join()
        if self.error:
            exc = self.error[0]
            raise _error(exc, self.url, "fingerprint failed") if isinstance(exc, psycopg.Error) else exc
        self.info.fingerprint.update(self.result)
        return self.info


class PostgresDatastore:
    """One database per datastore; the dump and the fingerprint read the same exported snapshot."""

    kind = "postgres"
    extension = ".pgdump"

    def client(
        self, target: Target, name: str, server_major: int, stdin: bool = False
    ) -> tuple[list[str], str, dict[str, str]]:
        """How to run a client tool for ``target``: the argv prefix, the tool's version, its environment.

        ``stdin``: the tool reads its input from stdin (pg_restore).
        """
        assert target.url is not None
        path, version = client_tool(name, server_major)
        return [path], version, tool_env(target.url)

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[_PgDump]:
        """pg_dump -Fc -Z0 (we compress) --snapshot, with the snapshot's transaction held open."""
        assert target.url is not None
        conn = _connect(target.url)
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = conn.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version_num')::int,"
                " current_setting('server_version'), pg_database_size(current_database()),"
                " CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
                " ELSE pg_current_wal_lsn() END::text"
            ).fetchone()
            assert row is not None
            snapshot, version_num, version, size, lsn = row
            prefix, tool_version, env = self.client(target, "pg_dump", version_num // 10000)
            argv = [
                *prefix,
                "--format=custom",
                "--compress=0",
                f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
                f"--snapshot={snapshot}",
                "--no-password",
            ]
            info = DumpInfo(
                format="pg_dump-custom",
                tool_versions={"pg_dump": tool_version},
                server_version=str(version),
                position={"lsn": lsn, "snapshot": snapshot},
                notes=["roles (globals) are not included: restores keep owners only where the roles exist"],
            )
            secret = secrets_of(target.url)
            with Proc(argv, env=env, secrets=secret) as proc:
                dump = _PgDump(proc, conn, target.url, info, int(size))
                dump.start_fingerprint()
                yield dump
        except psycopg.Error as exc:
            raise _error(exc, target.url, "dump failed") from exc
        finally:
            conn.close()

    def _admin(self, url: str) -> psycopg.Connection[tuple[Any, ...]]:
        return _connect(make_conninfo(url, dbname="postgres"), autocommit=True)

    def _recreate(self, url: str) -> None:
        """Drop (if present) and create the target database, keeping its owner and locale."""
        name = str(conninfo_to_dict(url).get("dbname") or "")
        if not name:
            raise BackupError("the PostgreSQL URL names no database to restore into")
        with self._admin(url) as admin:
            row = admin.execute(
                "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype"
                " FROM pg_database WHERE datname = %s",
                (name,),
            ).fetchone()
            ident = sql.Identifier(name)
            if row is not None:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
                admin.execute(
                    sql.SQL(
                        "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}"
                    ).format(ident, sql.Identifier(row[0]), *(sql.Literal(v) for v in row[1:]))
                )
            else:
                admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(ident))

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """A fresh database, then pg_restore in one transaction that stops at the first error."""
        assert target.url is not None
        try:
            self._recreate(target.url)
            with _connect(target.url) as conn:
                major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
        except psycopg.Error as exc:
            raise _error(exc, target.url, "restore failed") from exc
        prefix, _, env = self.client(target, "pg_restore", major, stdin=True)
        argv = [
            *prefix,
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={conninfo_to_dict(target.url)['dbname']}",
        ]
        notes = []
        if target.extra.get("scratch"):
            argv += ["--no-owner", "--no-privileges"]
            notes.append("restored with --no-owner --no-privileges (scratch)")
        with Proc(argv, env=env, stdin=stream, stdout=None, secrets=secrets_of(target.url)) as p:
            p.finish()
        return notes

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Row counts and content hashes of every user table (computed as ``like`` was)."""
        assert target.url is not None
        with _connect(target.url, autocommit=True) as conn:
            try:
                return fingerprint_conn(conn, like)
            except psycopg.Error as exc:
                raise _error(exc, target.url, "fingerprint failed") from exc

    def is_empty(self, target: Target) -> bool:
        """The database does not exist or has no user relations."""
        assert target.url is not None
        name = conninfo_to_dict(target.url).get("dbname")
        with self._admin(target.url) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                return True
        with _connect(target.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_t%'"
            ).fetchone()
        return row is None or int(row[0]) == 0

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A new database on the same server, dropped afterwards."""
        assert like.url is not None
        name = f"seawall_verify_{secrets.token_hex(6)}"
        url = with_database(like.url, name)
        try:
            yield Target(kind="postgres", url=url, extra={"scratch": True})
        finally:
            with self._admin(like.url) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


__all__ = ["PostgresDatastore", "client_tool", "fingerprint_conn", "tool_env", "tool_major"]
