"""The SQLite state store: migrations, samples, events, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from seawall.errors import StoreError
from seawall.store import Sample, open_store
from seawall.store.migrations import MIGRATIONS


def test_new_store_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    with open_store(tmp_path / "state") as store:
        assert store.schema_version == len(MIGRATIONS)
    mode = sqlite3.connect(tmp_path / "state" / "state.db").execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


def test_samples_round_trip_newest_first(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.add_samples(
            [
                Sample(1.0, "api", "ready", "pass", 0.01, ""),
                Sample(2.0, "api", "ready", "fail", 1.0, "timeout"),
            ]
        )
        store.add_samples([Sample(3.0, "db", "live", "pass", 0.02, "")])
        got = store.samples(component="api")
    assert [s.ts for s in got] == [2.0, 1.0]
    assert got[0].detail == "timeout"


def test_events_record_actor_and_detail(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.record("start", "api", pid=42)
        store.record("kill", "api", signal=9)
        store.record("start", "db")
        events = store.events(component="api")
    assert [e.kind for e in events] == ["kill", "start"]
    assert events[0].detail == {"signal": 9}
    assert "@" in events[0].actor


def test_store_from_a_newer_seawall_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(StoreError, match="newer than this Seawall"):
        open_store(tmp_path)


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the state store"):
        open_store(blocker / "state")


def test_concurrent_writers_do_not_lose_events(tmp_path: Path) -> None:
    open_store(tmp_path).close()

    def writer(n: int) -> None:
        with open_store(tmp_path) as store:
            for i in range(50):
                store.record("tick", f"w{n}", i=i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open_store(tmp_path) as store:
        assert len(store.events(kinds=["tick"], limit=1000)) == 200
