"""``prune``: remove the backups the retention policy does not keep (``dry_run`` only lists them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seawall.backup.catalog import Catalog
from seawall.backup.errors import BackupError
from seawall.backup.repository import open_repository
from seawall.backup.retention import Decision, Snapshot, has_rules, select
from seawall.config import StackConfig
from seawall.store import open_store


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Every backup with its decision; ``removed`` is empty on a dry run."""

    decisions: tuple[Decision, ...]
    removed: tuple[str, ...]
    dry_run: bool
    policy: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "dry_run": self.dry_run,
            "policy": self.policy,
            "removed": list(self.removed),
            "decisions": [{"id": d.id, "keep": d.keep, "reasons": list(d.reasons)} for d in self.decisions],
        }


def prune(stack: StackConfig, dry_run: bool = False) -> PruneResult:
    """Apply ``backup.retention``; an empty policy keeps everything."""
    repo = open_repository(stack)
    policy = stack.backup.retention
    with repo.lock(stack.stack, "prune"):
        manifests = [repo.read_manifest(stack.stack, i) for i in repo.backup_ids(stack.stack)]
        decisions = select([Snapshot(m.id, m.started, m.tags) for m in manifests], policy)
        doomed = [d.id for d in decisions if not d.keep]
        if dry_run or not doomed:
            return PruneResult(tuple(decisions), (), dry_run, has_rules(policy))
        removed = []
        with open_store(stack.state_dir) as store:
            catalog = Catalog(store, stack.stack)
            for backup_id in doomed:
                try:
                    repo.delete(stack.stack, backup_id)
                except OSError as exc:
                    raise BackupError(f"cannot remove backup {backup_id}: {exc.strerror}") from exc
                catalog.remove(backup_id)
                removed.append(backup_id)
            store.record("prune", None, removed=removed)
    return PruneResult(tuple(decisions), tuple(removed), False, True)
