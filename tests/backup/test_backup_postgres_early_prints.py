"""Tables fingerprinted while a parallel pg_restore still runs: only once their load has committed."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from _helpers import new_pg_database, pg_databases
from seawall.backup.sources.base import Target
from seawall.backup.sources.pg_early_prints import POLL, EarlyPrints
from seawall.backup.sources.pg_fingerprint import fingerprint_conn, fingerprint_parallel
from seawall.backup.sources.postgres import PostgresDatastore

ROWS = 2000


@pytest.fixture
def db() -> Iterator[str]:
    """A database of this test's own (the monitor looks at every table of it), dropped afterwards."""
    with pg_databases() as names:
        yield new_pg_database(names, "SELECT 1")


def wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(POLL / 2)


def copying(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_progress_copy").fetchone()
        return bool(row and row[0])


def sleeping(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'"
        ).fetchone()
        return bool(row and row[0])


def test_a_table_is_fingerprinted_only_after_its_copy_commits(db: str) -> None:
    """A COPY that has ended but not committed still holds its lock: its rows are not final yet."""
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute("CREATE TABLE loaded (id int PRIMARY KEY, body text)")
        setup.execute("CREATE TABLE idle (id int)")
    loader = psycopg.connect(db)
    try:
        with EarlyPrints(db, jobs=2) as early:
            with loader.cursor().copy("COPY loaded FROM STDIN") as copy:
                copy.write_row((0, "first"))
                wait_for(lambda: copying(db))
                time.sleep(3 * POLL)  # the monitor looks at least once while the COPY runs
                for i in range(1, ROWS):
                    copy.write_row((i, f"row {i}"))
            time.sleep(5 * POLL)  # the COPY is over, its transaction is not
            assert early.tables == {}
            loader.commit()
            wait_for(lambda: "public.loaded" in early.tables)
        with psycopg.connect(db) as conn:
            expected = fingerprint_conn(conn)["tables"]
        assert early.tables["public.loaded"] == expected["public.loaded"]
        assert early.tables["public.loaded"]["rows"] == ROWS
        assert "public.idle" not in early.tables  # never seen loading: left for the final scan
    finally:
        loader.close()


def test_no_table_is_scanned_while_every_slot_is_busy(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute("CREATE TABLE loaded (id int)")
    loader, busy = psycopg.connect(db), psycopg.connect(db)
    # the one slot is taken before the load commits and stays taken past the check: no look of the
    # monitor can fall between the two
    sleeper = threading.Thread(target=lambda: busy.execute("SELECT pg_sleep(%s)", (20 * POLL,)))
    try:
        with EarlyPrints(db, jobs=1) as early:
            with loader.cursor().copy("COPY loaded FROM STDIN") as copy:
                copy.write_row((1,))
                wait_for(lambda: copying(db))
                time.sleep(3 * POLL)
                sleeper.start()
                wait_for(lambda: sleeping(db))
            loader.commit()
            time.sleep(3 * POLL)
            assert early.tables == {}
            sleeper.join()
            wait_for(lambda: "public.loaded" in early.tables)  # and once it is free
    finally:
        if sleeper.is_alive():
            sleeper.join()
        loader.close()
        busy.close()


def test_early_tables_are_used_only_as_the_recorded_fingerprint_computes_them() -> None:
    early = EarlyPrints("postgresql://unused", jobs=2)
    early.tables = {
        "public.a": {"rows": 1, "hash": "5", "via": "record"},
        "public.b": {"rows": 2, "hash": "6", "via": "record"},
    }
    recorded = {"method": "pg-hash-2", "tables": {"public.a": {"via": "record"}, "public.b": {"via": "text"}}}
    assert early.usable(recorded) == {"public.a": early.tables["public.a"]}
    assert early.usable(None) == early.tables
    assert early.usable({"tables": {"public.a": {"rows": 1, "hash": "9"}}}) == {}  # md5 format: all again


def test_known_tables_are_merged_and_only_the_others_scanned(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as setup:
        for name in ("a", "b", "c"):
            setup.execute(f"CREATE TABLE {name} AS SELECT g AS id FROM generate_series(1, 100) g".encode())
        full = fingerprint_conn(setup)
    known = {"public.b": full["tables"]["public.b"], "public.gone": {"rows": 1, "hash": "1", "via": "record"}}
    merged = fingerprint_parallel(lambda: psycopg.connect(db), full, 2, known)
    assert merged == full  # a known table that no longer exists is not reported
    forged = {"public.b": {**full["tables"]["public.b"], "hash": "0"}}
    assert fingerprint_parallel(lambda: psycopg.connect(db), full, 2, forged) != full


def test_a_parallel_restore_uses_early_prints_and_still_proves_the_data(db: str, tmp_path: Path) -> None:
    """End to end: the restore's fingerprint, part early, equals the one recorded at backup time."""
    ds = PostgresDatastore()
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 300000) g"
        )
        setup.execute("CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 10) g")
        setup.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
    target = Target(kind="postgres", url=db, extra={"jobs": 2})
    with ds.dump(target, tmp_path) as dump:
        data = dump.stream.read()
        recorded = dump.finish().fingerprint
    ds.restore(io.BytesIO(data), target, tmp_path)
    assert set(ds._early[db].tables) <= {"public.big", "public.small"}
    assert ds.fingerprint(target, recorded) == recorded
    assert ds._early == {}  # taken by the fingerprint


def test_a_failed_restore_does_not_wait_for_a_scan_to_end(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaving on an error (pg_restore failed, Ctrl-C) cancels the scan running in the monitor."""
    from seawall.backup.sources import pg_early_prints

    scanning = threading.Event()

    def slow(conn: psycopg.Connection[Any], *_: Any) -> dict[str, Any]:
        scanning.set()
        conn.execute("SELECT pg_sleep(30)")
        return {"tables": {}}

    monkeypatch.setattr(pg_early_prints, "fingerprint_conn", slow)
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute("CREATE TABLE loaded (id int)")
    loader = psycopg.connect(db)

    def interrupted_restore() -> None:
        with EarlyPrints(db, jobs=2):
            with loader.cursor().copy("COPY loaded FROM STDIN") as copy:
                copy.write_row((1,))
                wait_for(lambda: copying(db))
                time.sleep(3 * POLL)
            loader.commit()
            assert scanning.wait(5)
            raise KeyboardInterrupt

    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            interrupted_restore()
    finally:
        loader.close()
    assert time.monotonic() - started < 10  # not the scan's 30 s
