"""SQLite backed up while another process keeps writing: the copy is a consistent snapshot."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seawall.backup import create_backup, restore
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS batches (batch INTEGER, n INTEGER)")
batch = 0
while True:
    with db:  # 100 rows per transaction: a torn snapshot would show a count that is not a multiple of 100
        db.executemany("INSERT INTO batches VALUES (?, ?)", [(batch, i) for i in range(100)])
    batch += 1
    time.sleep(0.001)
"""


def test_rows_written_in_one_transaction_are_never_torn(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack({"db": {"datastore": {"kind": "sqlite", "path": "app.db"}}})
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "app.db")])
    try:
        time.sleep(0.3)
        backups = [create_backup(stack, components=["db"]) for _ in range(3)]
    finally:
        writer.kill()
        writer.wait()
    for backup in backups:
        assert backup.ok
        target = tmp_path / f"{backup.id}.db"
        restore(stack, backup.id, component="db", to=str(target))
        with sqlite3.connect(target) as db:
            (count,) = db.execute("SELECT count(*) FROM batches").fetchone()
        assert count > 0
        assert count % 100 == 0
        assert backup.artifacts[0].fingerprint["tables"]["batches"]["rows"] == count
