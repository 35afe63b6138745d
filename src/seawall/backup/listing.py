"""``list_backups`` and ``show_backup``: the catalog kept in step with the repository, and the RPO."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seawall import clock
from seawall.backup._plan import find_backup
from seawall.backup.catalog import Catalog, CatalogEntry, Check
from seawall.backup.errors import BackupError, BackupNotFound
from seawall.backup.manifest import Manifest
from seawall.backup.repository import Repository, open_repository
from seawall.backup.rpo import DatastoreRpo, backed_up_datastores, rpo_by_datastore, worst
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
    """Backups oldest first, and the RPO now of each datastore (``rpo``) and of the stack (its worst).

    ``rpo_seconds`` is None when some datastore has no verified backup (or the stack has none).
    """

    repository: str
    backups: tuple[BackupInfo, ...]
    errors: tuple[str, ...]
    newest_verified: str | None
    rpo: tuple[DatastoreRpo, ...] = ()

    @property
    def rpo_worst(self) -> DatastoreRpo | None:
        """The datastore whose RPO is the stack's."""
        return worst(self.rpo)

    @property
    def rpo_seconds(self) -> float | None:
        """The stack's RPO now, in seconds."""
        figure = self.rpo_worst
        return None if figure is None else figure.seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "repository": self.repository,
            "backups": [b.to_dict() for b in self.backups],
            "errors": list(self.errors),
            "newest_verified": self.newest_verified,
            "rpo_seconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 1),
            "rpo": [f.to_dict() for f in self.rpo],
        }


def list_backups(stack: StackConfig, rescan: bool = False) -> BackupList:
    """The catalog, first brought in line with the repository (``rescan`` re-reads every manifest)."""
    repo = open_repository(stack)
    with open_store(stack.state_dir) as store:
        catalog = Catalog(store, stack.stack)
        errors = reconcile(repo, catalog, rescan)
        checks: dict[str, Check] = {}
        for check in catalog.checks():
            checks.setdefault(check.backup_id, check)
        infos = tuple(BackupInfo(e, checks.get(e.id)) for e in catalog.entries())
    verified = [b for b in infos if b.last_check is not None and b.last_check.ok]
    newest = verified[-1].entry.id if verified else None
    rpo = rpo_by_datastore(backed_up_datastores(stack), ((b.entry, b.last_check) for b in infos), clock.now())
    return BackupList(repo.location, infos, tuple(errors), newest, rpo)


def reconcile(repo: Repository, catalog: Catalog, rescan: bool = False) -> list[str]:
    """Bring the catalog in line with the repository; the errors of manifests that cannot be read.

    A manifest is read again when its size or mtime differs from when it was catalogued (one
    stat per backup): one corrupted or rewritten since then is not trusted from the cache. One
    that cannot be read leaves the catalog, so it is neither listed nor counted in the RPO.
    """
    stamps = repo.manifest_stamps(catalog.stack)
    known = catalog.stamps()
    for gone in known.keys() - stamps.keys():
        catalog.remove(gone)
    errors = []
    for backup_id, stamp in sorted(stamps.items()):
        if not rescan and known.get(backup_id) == stamp:
            continue
        try:
            catalog.add(repo.read_manifest(catalog.stack, backup_id), stamp)
        except BackupNotFound:  # deleted since the stat (a prune): gone
            catalog.remove(backup_id)
        except BackupError as exc:  # corrupt, or unreadable
            catalog.remove(backup_id)
            errors.append(str(exc))
    return errors


@dataclass(frozen=True, slots=True)
class BackupDetail:
    """One backup's manifest, verifications and restores."""

    manifest: Manifest
    checks: tuple[Check, ...]
    restores: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "manifest": {**self.manifest.to_dict(), "checksum": self.manifest.checksum},
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
