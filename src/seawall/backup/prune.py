"""``prune``: remove the backups the retention policy does not keep (``dry_run`` only lists them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seawall.backup.catalog import Catalog
from seawall.backup.errors import BackupError, PruneRefused
from seawall.backup.manifest import Manifest
from seawall.backup.repository import open_repository
from seawall.backup.retention import Decision, Snapshot, emptied_groups, group_of, has_rules, select
from seawall.config import StackConfig
from seawall.store import open_store


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Every backup with its decision; ``removed`` is empty on a dry run.

    ``unreadable`` holds the backups whose manifest could not be read (id, error): they are kept,
    since nothing that cannot be read is deleted, and they make the exit code 1. ``emptied`` names
    the groups the policy leaves without a backup; ``refused``: a real prune would refuse them
    (only a dry run returns it: the real one raises PruneRefused).
    """

    decisions: tuple[Decision, ...]
    removed: tuple[str, ...]
    dry_run: bool
    policy: bool
    unreadable: tuple[tuple[str, str], ...] = ()
    emptied: tuple[tuple[str, ...], ...] = ()
    refused: bool = False

    @property
    def exit_code(self) -> int:
        """The prune's exit code, the same for its dry run: 2 if refused, 1 with unreadable backups."""
        if self.refused:
            return PruneRefused.exit_code
        return 1 if self.unreadable else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "dry_run": self.dry_run,
            "policy": self.policy,
            "removed": list(self.removed),
            "decisions": [
                {"id": d.id, "keep": d.keep, "reasons": list(d.reasons), "group": list(d.group)}
                for d in self.decisions
            ],
            "unreadable": [{"id": i, "error": e} for i, e in self.unreadable],
            "emptied_groups": [list(g) for g in self.emptied],
            "refused": self.refused,
        }


def snapshot_of(manifest: Manifest) -> Snapshot:
    """What retention sees of a backup: its start (the data's time), tags and group."""
    return Snapshot(
        manifest.id, manifest.started, manifest.tags, group_of(a.component for a in manifest.artifacts)
    )


def refusal(emptied: tuple[tuple[str, ...], ...]) -> PruneRefused:
    """The error of a prune that would leave some group of backups empty."""
    groups = "; ".join(", ".join(g) or "(no component)" for g in emptied)
    return PruneRefused(
        f"refusing to prune: the retention policy keeps no backup of the group {groups}",
        hint="fix backup.retention (see `seawall backup prune --dry-run`),"
        " or pass --allow-remove-all to remove them anyway",
    )


def prune(stack: StackConfig, dry_run: bool = False, allow_remove_all: bool = False) -> PruneResult:
    """Apply ``backup.retention`` to each group of backups; an empty policy keeps everything.

    A policy that keeps no backup of some group raises PruneRefused (before anything is removed)
    unless ``allow_remove_all``; on a dry run it is reported in the result instead.
    """
    repo = open_repository(stack)
    policy = stack.backup.retention
    with repo.lock(stack.stack, "prune"):
        snapshots, unreadable = [], []
        for backup_id in repo.backup_ids(stack.stack):
            try:
                snapshots.append(snapshot_of(repo.read_manifest(stack.stack, backup_id)))
            except BackupError as exc:  # corrupt or unreadable: never deleted, the others still pruned
                unreadable.append((backup_id, str(exc)))
        decisions = select(snapshots, policy)
        emptied = tuple(emptied_groups(decisions)) if has_rules(policy) else ()
        refused = bool(emptied) and not allow_remove_all
        doomed = [d.id for d in decisions if not d.keep]
        if dry_run or not doomed:
            return PruneResult(
                tuple(decisions), (), dry_run, has_rules(policy), tuple(unreadable), emptied, refused
            )
        if refused:
            raise refusal(emptied)
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
    return PruneResult(tuple(decisions), tuple(removed), False, True, tuple(unreadable), emptied)
