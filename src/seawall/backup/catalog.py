"""The backup catalog in the state store: a cache of manifests plus verification and restore records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from seawall import clock
from seawall.backup.manifest import Manifest
from seawall.store import Store


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One backup as the catalog knows it."""

    id: str
    started: float
    finished: float
    complete: bool
    tags: tuple[str, ...]
    components: tuple[str, ...]
    raw_bytes: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class Check:
    """One verification of a backup."""

    backup_id: str
    ts: float
    deep: bool
    ok: bool
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "ts": self.ts,
            "at": clock.iso(self.ts),
            "deep": self.deep,
            "ok": self.ok,
            "detail": self.detail,
        }


class Catalog:
    """Catalog queries over one stack's store; every write is one immediate transaction."""

    def __init__(self, store: Store, stack: str) -> None:
        self.store, self.stack = store, stack

    def add(self, m: Manifest, stamp: tuple[int, int] | None = None) -> None:
        """Insert or replace one backup from its manifest, with the manifest's (size, mtime_ns) as read."""
        size, mtime_ns = stamp or (None, None)
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO backups(id, stack, started, finished, complete, tags, components,"
                " raw_bytes, stored_bytes, manifest_size, manifest_mtime_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.id,
                    m.stack,
                    m.started,
                    m.finished,
                    int(m.complete),
                    json.dumps(list(m.tags)),
                    json.dumps([a.component for a in m.artifacts]),
                    m.raw_bytes,
                    m.stored_bytes,
                    size,
                    mtime_ns,
                ),
            )

    def remove(self, backup_id: str) -> None:
        """Forget one backup (its checks and restores stay as history)."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM backups WHERE id = ? AND stack = ?", (backup_id, self.stack))

    def ids(self) -> set[str]:
        """Ids the catalog lists for the stack."""
        return set(self.stamps())

    def stamps(self) -> dict[str, tuple[int, int] | None]:
        """Each listed backup with its manifest's (size, mtime_ns) when it was read (None: not recorded)."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT id, manifest_size, manifest_mtime_ns FROM backups WHERE stack = ?", (self.stack,)
            ).fetchall()
        return {r[0]: None if r[1] is None else (r[1], r[2]) for r in rows}

    def entries(self) -> list[CatalogEntry]:
        """Backups, oldest first."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT id, started, finished, complete, tags, components, raw_bytes, stored_bytes"
                " FROM backups WHERE stack = ? ORDER BY started, id",
                (self.stack,),
            ).fetchall()
        return [
            CatalogEntry(
                r[0], r[1], r[2], bool(r[3]), tuple(json.loads(r[4])), tuple(json.loads(r[5])), r[6], r[7]
            )
            for r in rows
        ]

    def add_check(self, backup_id: str, deep: bool, ok: bool, detail: dict[str, Any]) -> None:
        """Record a verification result."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO backup_checks(backup_id, ts, deep, ok, detail) VALUES (?, ?, ?, ?, ?)",
                (backup_id, clock.now(), int(deep), int(ok), json.dumps(detail, default=str)),
            )

    def checks(self, backup_id: str | None = None) -> list[Check]:
        """Verifications, newest first."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT backup_id, ts, deep, ok, detail FROM backup_checks"
                " WHERE (? IS NULL OR backup_id = ?) ORDER BY ts DESC",
                (backup_id, backup_id),
            ).fetchall()
        return [Check(r[0], r[1], bool(r[2]), bool(r[3]), json.loads(r[4])) for r in rows]

    def add_restore(
        self, backup_id: str, component: str, target: str, seconds: float, ok: bool, detail: dict[str, Any]
    ) -> None:
        """Record a restore and its duration (the measured RTO)."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO backup_restores(backup_id, ts, component, target, seconds, ok, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    backup_id,
                    clock.now(),
                    component,
                    target,
                    seconds,
                    int(ok),
                    json.dumps(detail, default=str),
                ),
            )

    def restores(self, backup_id: str | None = None) -> list[dict[str, Any]]:
        """Restores, newest first."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT backup_id, ts, component, target, seconds, ok FROM backup_restores"
                " WHERE (? IS NULL OR backup_id = ?) ORDER BY ts DESC",
                (backup_id, backup_id),
            ).fetchall()
        return [
            {
                "backup_id": r[0],
                "at": clock.iso(r[1]),
                "component": r[2],
                "target": r[3],
                "seconds": r[4],
                "ok": bool(r[5]),
            }
            for r in rows
        ]
