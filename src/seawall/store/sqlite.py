"""The state store: SQLite in WAL mode with versioned migrations, probe samples and the event log."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seawall import clock
from seawall.errors import StoreError
from seawall.store.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored probe result."""

    ts: float
    component: str
    role: str
    status: str
    latency: float
    detail: str


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log: who did what to which component, when."""

    id: int
    ts: float
    kind: str
    component: str | None
    actor: str
    detail: dict[str, object]


def actor() -> str:
    """Who is acting: user@host (pid), recorded with every event."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


class Store:
    """A connection to one stack's state database; cheap to open, safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state store {path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, so concurrent CLIs serialise cleanly."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"state store {self.path} is busy: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The migration level of the database."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"state store {self.path} has schema v{version}, newer than this Seawall "
                    f"understands (v{len(MIGRATIONS)}): upgrade Seawall"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number}")

    # probe samples ----------------------------------------------------------------------------

    def add_samples(self, samples: Sequence[Sample]) -> None:
        """Store probe results (one transaction for the batch)."""
        if not samples:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO probe_samples(ts, component, role, status, latency, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(s.ts, s.component, s.role, s.status, s.latency, s.detail) for s in samples],
            )

    def samples(
        self,
        component: str | None = None,
        role: str | None = None,
        since: float = 0.0,
        limit: int = 1000,
    ) -> list[Sample]:
        """Stored samples, newest first."""
        rows = self._db.execute(
            "SELECT ts, component, role, status, latency, detail FROM probe_samples"
            " WHERE ts >= ? AND (? IS NULL OR component = ?) AND (? IS NULL OR role = ?)"
            " ORDER BY ts DESC LIMIT ?",
            (since, component, component, role, role, limit),
        ).fetchall()
        return [Sample(*row) for row in rows]

    # events -------------------------------------------------------------------------------------

    def record(self, kind: str, component: str | None = None, **detail: object) -> int:
        """Append an event (start, stop, kill, restart, probe_failed, ...); returns its id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO events(ts, kind, component, actor, detail) VALUES (?, ?, ?, ?, ?)",
                (clock.now(), kind, component, actor(), json.dumps(detail, default=str)),
            )
            return int(cur.lastrowid or 0)

    def events(
        self,
        component: str | None = None,
        kinds: Sequence[str] = (),
        since: float = 0.0,
        limit: int = 200,
    ) -> list[Event]:
        """Events, newest first, optionally filtered."""
        sql = "SELECT id, ts, kind, component, actor, detail FROM events WHERE ts >= ?"
        args: list[object] = [since]
        if component is not None:
            sql += " AND component = ?"
            args.append(component)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [
            Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
            for r in self._db.execute(sql, args).fetchall()
        ]
