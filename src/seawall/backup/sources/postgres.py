"""PostgreSQL, logical: pg_dump from an exported snapshot (custom format, or directory format with
parallel jobs), pg_restore with exit-on-error.

Roles are not dumped (no ``pg_dumpall --globals-only``): a restore into the original server keeps
owners and privileges, because the roles are still there; a verification restore into a scratch
database uses ``--no-owner --no-privileges``, which proves the data, not the grants.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seawall.backup.errors import BackupError
from seawall.backup.procs import Proc
from seawall.backup.sources._head import Rest, read_head
from seawall.backup.sources._scratch import PREFIX, scratch_name, stale
from seawall.backup.sources.base import DumpInfo, Target
from seawall.backup.sources.pg_client import (
    client_tool,
    connect,
    pg_error,
    tool_env,
    tool_major,
    with_database,
)
from seawall.backup.sources.pg_directory import (
    CUSTOM_MAGIC,
    check_space,
    feed,
    private_dir,
    tar_proc,
    tree_size,
    write_meta,
)
from seawall.backup.sources.pg_directory import FORMAT as DIRECTORY
from seawall.backup.sources.pg_early_prints import EarlyPrints
from seawall.backup.sources.pg_fingerprint import fingerprint_conn, fingerprint_parallel
from seawall.backup.sources.pg_unpack import Unpacking
from seawall.probes.redact import secrets_of

LOCK_WAIT_TIMEOUT = "30s"


class _Fingerprint:
    """The fingerprint, taken in a thread on the snapshot's connection while the dump runs."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], url: str) -> None:
        self.conn, self.url = conn, url
        self.result: dict[str, Any] = {}
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, name="seawall-pg-fingerprint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result.update(fingerprint_conn(self.conn))
        except BaseException as exc:
            self.error.append(exc)

    def stop(self) -> None:
        """Cancel the scan (the dump failed), so the connection can close under nobody."""
        if self.thread.is_alive():
            with contextlib.suppress(psycopg.Error):
                self.conn.cancel_safe(timeout=5)
            self.thread.join(10)

    def join(self) -> dict[str, Any]:
        """The fingerprint, or the error that stopped it."""
        self.thread.join()
        if self.error:
            exc = self.error[0]
            raise pg_error(exc, self.url, "fingerprint failed") if isinstance(exc, psycopg.Error) else exc
        return self.result


@dataclass
class _PgDump:
    proc: Proc  # pg_dump (custom format), or tar of the directory pg_dump wrote
    prints: _Fingerprint
    info: DumpInfo
    size_hint: int | None

    @property
    def stream(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def finish(self) -> DumpInfo:
        self.proc.finish()
        self.info.fingerprint.update(self.prints.join())
        return self.info


def jobs_of(target: Target) -> int:
    """The datastore's parallel jobs (``jobs`` in the stack file; 1: the streamed custom format)."""
    return int(target.extra.get("jobs") or 1)


class PostgresDatastore:
    """One database per datastore; the dump and the fingerprint read the same exported snapshot."""

    kind = "postgres"
    extension = ".pgdump"

    def __init__(self) -> None:
        # tables a parallel restore fingerprinted while pg_restore still ran, by target URL: taken
        # (and dropped) by the ``fingerprint`` that follows the restore; a new restore clears them
        self._early: dict[str, EarlyPrints] = {}

    def client(
        self, target: Target, name: str, server_major: int, stdin: bool = False, on_host: bool = False
    ) -> tuple[list[str], str, dict[str, str]]:
        """How to run a client tool for ``target``: the argv prefix, the tool's version, its environment.

        ``stdin``: the tool reads its input from stdin (pg_restore). ``on_host``: the tool reads or
        writes a directory on this machine (the directory format).
        """
        assert target.url is not None
        path, version = client_tool(name, server_major)
        return [path], version, tool_env(target.url)

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[_PgDump]:
        """pg_dump -Z0 (we compress) --snapshot, with the snapshot's transaction held open.

        One job: the custom format, streamed. More: the directory format with ``--jobs``, staged
        under ``staging`` and streamed as a tar once pg_dump is done.
        """
        assert target.url is not None
        conn = connect(target.url)
        prints: _Fingerprint | None = None
        try:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            # The fingerprint scans a live server beside the dump: in one process, so it never takes
            # the application's parallel workers. With them it cost 2.2 CPU-s instead of 2.0 and
            # slowed the dump's own backend (a 1.1 GB one-job backup: 1.23x pg_dump|zstd, not 1.09x).
            conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            row = conn.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version_num')::int,"
                " current_setting('server_version'), pg_database_size(current_database()),"
                " CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
                " ELSE pg_current_wal_lsn() END::text"
            ).fetchone()
            assert row is not None
            snapshot, version_num, version, size, lsn = row
            jobs = jobs_of(target)
            if jobs > 1:
                check_space(staging, int(size))
            prefix, tool_version, env = self.client(target, "pg_dump", version_num // 10000, on_host=jobs > 1)
            argv = [
                *prefix,
                "--compress=0",
                f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}",
                f"--snapshot={snapshot}",
                "--no-password",
            ]
            info = DumpInfo(
                format="pg_dump-custom" if jobs == 1 else DIRECTORY,
                tool_versions={"pg_dump": tool_version},
                server_version=str(version),
                position={"lsn": lsn, "snapshot": snapshot, **({"jobs": jobs} if jobs > 1 else {})},
                notes=["roles (globals) are not included: restores keep owners only where the roles exist"],
            )
            secret = secrets_of(target.url)
            if jobs == 1:
                with Proc([*argv, "--format=custom"], env=env, secrets=secret) as proc:
                    prints = _Fingerprint(conn, target.url)
                    yield _PgDump(proc, prints, info, int(size))
                return
            with private_dir(staging, "pg_dump") as directory:
                prints = _Fingerprint(conn, target.url)
                # --no-sync: the directory is scratch; the artifact made of it is fsynced
                argv += ["--format=directory", f"--jobs={jobs}", "--no-sync", f"--file={directory}"]
                with Proc(
                    argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, secrets=secret
                ) as proc:
                    proc.finish()
                files = write_meta(directory, jobs)
                with tar_proc(directory, files) as tar:
                    yield _PgDump(tar, prints, info, tree_size(directory))
        except psycopg.Error as exc:
            raise pg_error(exc, target.url, "dump failed") from exc
        finally:
            if prints is not None:
                prints.stop()
            conn.close()

    def _admin(self, url: str) -> psycopg.Connection[tuple[Any, ...]]:
        return connect(make_conninfo(url, dbname="postgres"), autocommit=True)

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
        """A fresh database, then pg_restore, which stops at the first error.

        The artifact's first bytes tell its format: a custom-format dump streams into pg_restore in
        one transaction; a directory-format tar is unpacked under ``staging`` and restored with jobs.
        """
        assert target.url is not None
        self._early.pop(target.url, None)
        try:
            self._recreate(target.url)
            with connect(target.url) as conn:
                major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
        except psycopg.Error as exc:
            raise pg_error(exc, target.url, "restore failed") from exc
        head = read_head(stream, len(CUSTOM_MAGIC))
        custom = head == CUSTOM_MAGIC
        prefix, _, env = self.client(target, "pg_restore", major, stdin=custom, on_host=not custom)
        argv = [
            *prefix,
            "--exit-on-error",
            "--no-password",
            f"--dbname={conninfo_to_dict(target.url)['dbname']}",
        ]
        notes = []
        if target.extra.get("scratch"):
            argv += ["--no-owner", "--no-privileges"]
            notes.append("restored with --no-owner --no-privileges (scratch)")
        secret = secrets_of(target.url)
        if custom:
            self._restore_custom([*argv, "--single-transaction"], env, secret, Rest(head, stream))
            return notes
        with private_dir(staging, "pg_restore") as directory:
            unpack = Unpacking(Rest(head, stream), directory)
            try:
                unpack.open()
                jobs = jobs_of(target) if jobs_of(target) > 1 else unpack.jobs or 1
                argv += ["--format=directory", f"--jobs={jobs}", str(directory)]
                unpack.take(jobs)  # the files pg_restore's first workers open; the rest while it runs
                overtaken = not self._run_directory(argv, env, secret, target.url, jobs, unpack)
            finally:
                unpack.close()
            if overtaken:
                try:
                    self._recreate(target.url)
                except psycopg.Error as exc:
                    raise pg_error(exc, target.url, "restore failed") from exc
                self._run_directory(argv, env, secret, target.url, jobs, unpack)
                notes.append("pg_restore got ahead of the unpacking: restored again once the dump was out")
        notes.append(
            f"restored with {jobs} parallel jobs, not in one transaction (pg_restore cannot combine"
            " --single-transaction with --jobs): a restore that fails midway leaves a partial database"
        )
        return notes

    def _run_directory(
        self,
        argv: list[str],
        env: dict[str, str],
        secret: tuple[str, ...],
        url: str,
        jobs: int,
        unpack: Unpacking,
    ) -> bool:
        """pg_restore on the directory while ``unpack`` writes its remaining files; False when it failed
        before they were all out (it may then have looked for one too early: the caller runs it again)."""
        pending = bool(unpack.files)
        with (
            Proc(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, secrets=secret) as proc,
            EarlyPrints(url, jobs) as early,
        ):
            try:
                unpack.take()
            except BaseException:
                proc.kill()  # a damaged artifact: pg_restore must not finish on what came before
                raise
            ahead = pending and proc.popen.poll() is not None
            try:
                proc.finish()
            except BackupError:
                if ahead:
                    return False
                raise
        self._early[url] = early
        return True

    def _restore_custom(
        self, argv: list[str], env: dict[str, str], secret: tuple[str, ...], rest: Rest
    ) -> None:
        errors: list[BaseException] = []
        with Proc(argv, env=env, stdin=subprocess.PIPE, stdout=None, secrets=secret) as proc:
            assert proc.popen.stdin is not None
            feeder = feed(rest, proc.popen.stdin, errors)
            try:
                proc.finish()
            finally:
                proc.kill()
                feeder.join()
        if errors:
            raise errors[0]

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Row counts and content hashes of every user table (computed as ``like`` was)."""
        assert target.url is not None
        url = target.url
        try:
            # a restored or scratch database is idle: its tables are scanned on parallel connections
            early = self._early.pop(url, None)
            known = early.usable(like) if early is not None else None
            workers = max(2, int(target.extra.get("jobs", 1)))
            return fingerprint_parallel(lambda: connect(url), like, workers, known)
        except psycopg.Error as exc:
            raise pg_error(exc, url, "fingerprint failed") from exc

    def is_empty(self, target: Target) -> bool:
        """The database does not exist or has no user relations."""
        assert target.url is not None
        name = conninfo_to_dict(target.url).get("dbname")
        with self._admin(target.url) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                return True
        with connect(target.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_t%'"
            ).fetchone()
        return row is None or int(row[0]) == 0

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A new database on the same server, dropped afterwards (and leftovers of killed runs first)."""
        assert like.url is not None
        with self._admin(like.url) as admin:
            listed = admin.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (PREFIX,)
            )
            for old in stale(str(row[0]) for row in listed.fetchall()):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(old)))
        name = scratch_name()
        url = with_database(like.url, name)
        try:
            yield Target(kind="postgres", url=url, extra={**like.extra, "scratch": True})
        finally:
            with self._admin(like.url) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


__all__ = [
    "PostgresDatastore",
    "client_tool",
    "fingerprint_conn",
    "jobs_of",
    "tool_env",
    "tool_major",
    "with_database",
]
