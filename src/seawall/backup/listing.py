"""``list_backups`` and ``show_backup``: the catalog kept in step with the repository, and the RPO."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seawall import clock
from seawall.backup._plan import find_backup
from seawall.backup.catalog import Catalog, CatalogEntry, Check
from seawall.backup.errors import ManifestCorrupt
from seawall.backup.manifest import Manifest
from seawall.backup.repository import open_repository
from seawall.config import StackConfig
from seawall.store import open_store


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """One backup in a listing, with its latest verification."""

    entry: CatalogEntry
    last_check: Check | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        e = self.entry
        return {
            "id": e.id,
            "started_at": clock.iso(e.started),
            "seconds": round(e.finished - e.started, 3),
            "complete": e.complete,
            "tags": list(e.tags),
            "components": list(e.components),
            "raw_bytes": e.raw_bytes,
            "stored_bytes": e.stored_bytes,
            "last_check": None
            if self.last_check is None
            else {k: v for k, v in self.last_check.to_dict().items() if k != "detail"},
        }


@dataclass(frozen=True, slots=True)
class BackupList:
    """Backups oldest first; RPO is the age of the newest verified backup (None: nothing verified)."""

    repository: str
    backups: tuple[BackupInfo, ...]
    errors: tuple[str, ...]
    newest_verified: str | None
    rpo_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "repository": self.repository,
            "backups": [b.to_dict() for b in self.backups],
            "errors": list(self.errors),
            "newest_verified": self.newest_verified,
            "rpo_seconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 1),
        }


def list_backups(stack: StackConfig, rescan: bool = False) -> BackupList:
    """The catalog, first brought in line with the repository (``rescan`` re-reads every manifest)."""
    repo = open_repository(stack)
    errors: list[str] = []
    with open_store(stack.state_dir) as store:
        catalog = Catalog(store, stack.stack)
        in_repo = set(repo.backup_ids(stack.stack))
        known = catalog.ids()
        for gone in known - in_repo:
            catalog.remove(gone)
        for backup_id in sorted(in_repo if rescan else in_repo - known):
            try:
                catalog.add(repo.read_manifest(stack.stack, backup_id))
            except ManifestCorrupt as exc:
                catalog.remove(backup_id)
                errors.append(str(exc))
        checks: dict[str, Check] = {}
        for check in catalog.checks():
            checks.setdefault(check.backup_id, check)
        infos = tuple(BackupInfo(e, checks.get(e.id)) for e in catalog.entries())
    verified = [b for b in infos if b.last_check is not None and b.last_check.ok]
    newest = verified[-1] if verified else None
    rpo = clock.now() - newest.entry.finished if newest else None
    return BackupList(repo.location, infos, tuple(errors), newest.entry.id if newest else None, rpo)


@dataclass(frozen=True, slots=True)
class BackupDetail:
    """One backup's manifest, verifications and restores."""

    manifest: Manifest
    checks: tuple[Check, ...]
    restores: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "manifest": self.manifest.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "restores": list(self.restores),
        }


def show_backup(stack: StackConfig, backup_id: str = "latest") -> BackupDetail:
    """A backup's manifest (read from the repository) with its history from the catalog."""
    manifest = find_backup(open_repository(stack), stack.stack, backup_id)
    with open_store(stack.state_dir) as store:
        catalog = Catalog(store, stack.stack)
        return BackupDetail(
            manifest, tuple(catalog.checks(manifest.id)), tuple(catalog.restores(manifest.id))
        )
