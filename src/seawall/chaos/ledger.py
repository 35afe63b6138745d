"""The restore ledger: every fault and its inverse, made durable before the fault is applied.

Entries live in the ``chaos_ledger`` table of the stack's state store. The ledger keeps its own
SQLite connection with ``synchronous=FULL``: in WAL mode that fsyncs the log on every commit, so an
intent that ``record`` returned from survives a SIGKILL of the runner and a power cut. States:

    pending   written, the fault may or may not have been applied (a crash can land in between)
    active    applied (as far as the runner knows)
    restored  its inverse ran successfully; never replayed again
    failed    its inverse failed; replayed by the next restore

Inverses are idempotent (resume a running process, remove an absent toxic, delete a missing file),
which is what makes replaying a ``pending`` entry whose fault never got applied harmless.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from seawall import clock
from seawall.errors import StoreError
from seawall.store import STORE_FILE, actor, open_store

BUSY_TIMEOUT_MS = 10_000
_COLUMNS = (
    "id, run_id, ts, kind, target, fault, inverse, state, owner, owner_pid, applied_at, restored_at, error"
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One fault as the ledger knows it."""

    id: str
    run_id: str
    ts: float
    kind: str
    target: str
    fault: dict[str, Any]
    inverse: dict[str, Any]
    state: str
    owner: str
    owner_pid: int
    applied_at: float | None
    restored_at: float | None
    error: str

    @property
    def owner_alive(self) -> bool:
        """The runner that wrote this entry still runs (same host, same pid, started before the entry)."""
        host = self.owner.partition("@")[2].rpartition(":")[0]
        if host != socket.gethostname():
            return True  # cannot tell from here: assume alive, only `panic` touches it
        try:
            proc = psutil.Process(self.owner_pid)
            return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= self.ts + 1.0
        except psutil.Error:
            return False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "ts": self.ts,
            "kind": self.kind,
            "target": self.target,
            "fault": self.fault,
            "inverse": self.inverse,
            "state": self.state,
            "owner": self.owner,
            "applied_at": self.applied_at,
            "restored_at": self.restored_at,
            "error": self.error,
        }


class Ledger:
    """The chaos ledger of one stack; a dedicated fully-synchronous connection to its state store."""

    def __init__(self, state_dir: Path) -> None:
        # opening the Store first creates and migrates the schema (chaos_ledger included)
        open_store(state_dir).close()
        self.path = state_dir / STORE_FILE
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the chaos ledger in {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the chaos ledger {self.path}: {exc}") from exc

    def record(
        self,
        run_id: str,
        fault_id: str,
        kind: str,
        target: str,
        fault: dict[str, Any],
        inverse: dict[str, Any],
    ) -> None:
        """Write the intent durably; only after this returns may the fault be applied."""
        with self._write() as db:
            db.execute(
                f"INSERT INTO chaos_ledger({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?,"
                " NULL, NULL, '')",
                (
                    fault_id,
                    run_id,
                    clock.now(),
                    kind,
                    target,
                    json.dumps(fault, default=str),
                    json.dumps(inverse, default=str),
                    actor(),
                    os.getpid(),
                ),
            )

    def mark_active(self, fault_id: str) -> None:
        """The fault is applied."""
        with self._write() as db:
            db.execute(
                "UPDATE chaos_ledger SET state = 'active', applied_at = ? WHERE id = ? AND state = 'pending'",
                (clock.now(), fault_id),
            )

    def mark_restored(self, fault_id: str) -> None:
        """The inverse ran: the entry is done for good."""
        with self._write() as db:
            db.execute(
                "UPDATE chaos_ledger SET state = 'restored', restored_at = ?, error = '' WHERE id = ?",
                (clock.now(), fault_id),
            )

    def mark_failed(self, fault_id: str, error: str) -> None:
        """The inverse failed; the entry stays due for the next restore."""
        with self._write() as db:
            db.execute(
                "UPDATE chaos_ledger SET state = 'failed', error = ? WHERE id = ? AND state != 'restored'",
                (error, fault_id),
            )

    def entries(
        self, run_id: str | None = None, pending_only: bool = False, limit: int = 1000
    ) -> list[LedgerEntry]:
        """Entries, newest first (the order inverses are replayed in)."""
        sql = f"SELECT {_COLUMNS} FROM chaos_ledger WHERE (? IS NULL OR run_id = ?)"
        if pending_only:
            sql += " AND state != 'restored'"
        sql += " ORDER BY ts DESC, rowid DESC LIMIT ?"
        try:
            rows = self._db.execute(sql, (run_id, run_id, limit)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the chaos ledger {self.path}: {exc}") from exc
        return [
            LedgerEntry(
                id=r[0],
                run_id=r[1],
                ts=r[2],
                kind=r[3],
                target=r[4],
                fault=json.loads(r[5]),
                inverse=json.loads(r[6]),
                state=r[7],
                owner=r[8],
                owner_pid=r[9],
                applied_at=r[10],
                restored_at=r[11],
                error=r[12],
            )
            for r in rows
        ]

    def pending(self, run_id: str | None = None) -> list[LedgerEntry]:
        """Entries whose inverse has not run successfully yet, newest first."""
        return self.entries(run_id, pending_only=True)


__all__ = ["Ledger", "LedgerEntry"]
