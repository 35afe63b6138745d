"""The RPO now, per datastore: the age of the newest verified backup holding a good artifact of it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from seawall.backup.catalog import CatalogEntry, Check
from seawall.config import StackConfig


@dataclass(frozen=True, slots=True)
class DatastoreRpo:
    """One datastore's RPO now; ``backup`` is None when no verified backup holds it (RPO unknown)."""

    component: str
    backup: str | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "component": self.component,
            "newest_verified": self.backup,
            "rpo_seconds": None if self.seconds is None else round(self.seconds, 1),
        }


def backed_up_datastores(stack: StackConfig) -> list[str]:
    """The components whose data backups hold (S3 buckets are not backed up yet, so they have no RPO)."""
    return [n for n, c in stack.components.items() if c.datastore is not None and c.datastore.kind != "s3"]


def data_age(started: float, now: float) -> float:
    """How old a backup's data is: from its start, when the snapshot was taken, not its finish.

    A backup dated in the future (a clock that was wrong) counts as new, never as a negative age.
    """
    return max(0.0, now - started)


def good_components(entry: CatalogEntry, check: Check | None) -> set[str]:
    """The components of a backup whose artifact passed the backup's last verification."""
    if check is None:
        return set()
    artifacts = check.detail.get("artifacts")
    if not isinstance(artifacts, list):  # a check recorded without per-artifact results
        return set(entry.components) if check.ok else set()
    passed = {a.get("component") for a in artifacts if isinstance(a, dict) and a.get("ok") is True}
    return {c for c in entry.components if c in passed}


def rpo_by_datastore(
    datastores: Sequence[str], backups: Iterable[tuple[CatalogEntry, Check | None]], now: float
) -> tuple[DatastoreRpo, ...]:
    """Each datastore's RPO now: a backup of some components (``-c``), or a partial one, counts
    only for the components it holds and that verified."""
    newest: dict[str, CatalogEntry] = {}
    for entry, check in backups:
        for component in good_components(entry, check):
            if component not in newest or entry.started > newest[component].started:
                newest[component] = entry
    return tuple(
        DatastoreRpo(c, newest[c].id, data_age(newest[c].started, now)) if c in newest else DatastoreRpo(c)
        for c in datastores
    )


def worst(figures: Sequence[DatastoreRpo]) -> DatastoreRpo | None:
    """The stack's RPO is its worst datastore's; one without a verified backup is worst of all."""
    return max(figures, key=lambda f: float("inf") if f.seconds is None else f.seconds, default=None)
