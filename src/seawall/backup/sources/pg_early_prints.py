"""Fingerprints of the tables a parallel pg_restore has finished loading, taken while it works on.

``pg_restore --jobs`` ends with a tail in which one worker loads the last large table, or builds
its indexes, while the other slots stay idle (on the benchmark's 1.1 GB database, 1.4 s of one idle
core). The restored database's fingerprint used to start only after pg_restore exited. Here a
monitor connection watches the server and fingerprints a table in such an idle slot, as soon as
its data is in:

- a table is *loaded* once its ``COPY`` was seen in ``pg_stat_progress_copy`` and no other session
  holds a lock on it any more: the ``COPY``'s transaction keeps its RowExclusiveLock until it
  commits, so no uncommitted row can be missed;
- nothing pg_restore does after a table's data changes its rows (indexes, constraints, triggers,
  grants and comments come after the data and do not rewrite it), so the fingerprint taken then is
  the table's final one;
- the monitor only scans while fewer than ``jobs`` of pg_restore's sessions are active, and never
  waits for a lock (``lock_timeout``): a table pg_restore is altering is left for later.

A table the monitor never saw loading (it loaded between two looks) or could not scan in time is
fingerprinted afterwards, with every other table, exactly as before.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import psycopg

from seawall.backup.sources.pg_client import connect
from seawall.backup.sources.pg_fingerprint import FINGERPRINT_METHOD, fingerprint_conn
from seawall.errors import SeawallError

POLL = 0.05  # seconds between two looks at the server: one small catalog query each
_LOOK = """
SELECT (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()),
       ARRAY(SELECT relid FROM pg_stat_progress_copy WHERE datname = current_database()),
       ARRAY(SELECT DISTINCT relation FROM pg_locks
             WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND relation IS NOT NULL AND pid <> pg_backend_pid())"""
_NAME = """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = %s AND c.relkind = 'r'"""


class EarlyPrints:
    """A thread that fingerprints loaded tables in pg_restore's idle slots; ``tables`` when stopped."""

    def __init__(self, url: str, jobs: int) -> None:
        self.url, self.jobs = url, jobs
        self.tables: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._thread = threading.Thread(target=self._run, name="seawall-pg-early-prints", daemon=True)

    def __enter__(self) -> EarlyPrints:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._stop.set()
        conn = self._conn
        if kind is not None and conn is not None:
            # the restore failed or was interrupted: do not wait for a scan of a table to end
            with contextlib.suppress(psycopg.Error):
                conn.cancel()
        self._thread.join()

    def _run(self) -> None:
        # an optimisation only: whatever goes wrong here, the tables are fingerprinted afterwards
        try:
            with connect(self.url, autocommit=True) as conn:
                self._conn = conn
                if int(conn.execute("SHOW server_version_num").fetchone()[0]) < 140000:  # type: ignore[index]
                    return  # no pg_stat_progress_copy before PostgreSQL 14
                conn.execute("SET lock_timeout = '20ms'")
                conn.execute("SET max_parallel_workers_per_gather = 0")  # one core: the idle one
                self._watch(conn)
        except (psycopg.Error, SeawallError):
            return

    def _watch(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        seen: set[int] = set()
        done: set[int] = set()
        while not self._stop.wait(POLL):
            row = conn.execute(_LOOK).fetchone()
            if row is None:
                continue
            busy, copying, locked = int(row[0]), set(row[1]), set(row[2])
            seen |= copying
            ready = sorted(seen - copying - locked - done)
            if not ready or busy >= self.jobs:
                continue
            oid = ready[0]
            done.add(oid)
            found = conn.execute(_NAME, (oid,)).fetchone()
            if found is None:
                continue
            try:
                part = fingerprint_conn(conn, None, [(str(found[0]), str(found[1]))])
            except psycopg.errors.LockNotAvailable:
                done.discard(oid)  # pg_restore is altering it: try again at a later look
                continue
            self.tables.update(part["tables"])

    def usable(self, like: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """The early tables that match how ``like`` (the recorded fingerprint) was computed."""
        if like is not None and like.get("method") != FINGERPRINT_METHOD:
            return {}  # an older format: everything is computed the old way, afterwards
        recorded = (like or {}).get("tables", {})
        return {
            key: table
            for key, table in self.tables.items()
            if key not in recorded or recorded[key].get("via") == table["via"]
        }


__all__ = ["EarlyPrints"]
