"""Free disk where a stack keeps things: paths grouped by filesystem, and the thresholds that judge them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seawall.config import StackConfig

Verdict = Literal["ok", "warn", "fail"]

MiB = 1024**2
GiB = 1024**3
# Below the floor a backup or a database checkpoint fails outright; below the margin it soon will.
HARD_FLOOR_BYTES = 100 * MiB
HARD_FLOOR_RATIO = 0.01
WARN_BYTES = 1 * GiB
WARN_RATIO = 0.10


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """One filesystem: the existing directory measured, its space, and what the stack keeps there."""

    path: str
    free_bytes: int
    total_bytes: int
    purposes: tuple[str, ...]

    @property
    def free_ratio(self) -> float:
        """Free space as a fraction of the filesystem's size."""
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "path": self.path,
            "free_bytes": self.free_bytes,
            "total_bytes": self.total_bytes,
            "purposes": list(self.purposes),
        }


def disk_verdict(free: int, total: int) -> tuple[Verdict, str]:
    """Judge free space: fail below 100 MiB or 1%, warn below 1 GiB or 10%; with the reason."""
    ratio = free / total if total else 0.0
    if free < HARD_FLOOR_BYTES or ratio < HARD_FLOOR_RATIO:
        return "fail", "below the hard floor (100 MiB or 1%)"
    if free < WARN_BYTES or ratio < WARN_RATIO:
        return "warn", "running low (under 1 GiB or 10%)"
    return "ok", ""


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its closest existing ancestor (where it would be created)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")


def data_places(stack: StackConfig) -> list[tuple[str, Path]]:
    """(purpose, path) of every datastore kept in local files (sqlite files, files directories)."""
    places: list[tuple[str, Path]] = []
    for name, comp in stack.components.items():
        store = comp.datastore
        if store is not None and store.kind in ("sqlite", "files") and store.path:
            places.append((f"{name} data", stack.resolve(store.path)))
    return places


def stack_places(stack: StackConfig) -> list[tuple[str, Path]]:
    """Data paths plus the backup repository (when local) and the state directory."""
    places = data_places(stack)
    if "://" not in stack.backup.repository:
        places.append(("backups", stack.resolve(stack.backup.repository)))
    places.append(("state", stack.state_dir))
    return places


def disks_for(places: Sequence[tuple[str, Path]]) -> list[DiskSpace]:
    """Free space per filesystem holding ``places``, one entry per device, in first-seen order."""
    by_device: dict[int, tuple[Path, list[str]]] = {}
    for purpose, path in places:
        existing = nearest_existing(path)
        if not existing.is_dir():
            existing = existing.parent  # a sqlite file: report the directory holding it
        try:
            device = os.stat(existing).st_dev
        except OSError:
            continue  # vanished between the two calls, or unreadable: nothing to measure
        purposes = by_device.setdefault(device, (existing, []))[1]
        if purpose not in purposes:
            purposes.append(purpose)
    disks: list[DiskSpace] = []
    for where, purposes in by_device.values():
        try:
            usage = shutil.disk_usage(where)
        except OSError:
            continue
        disks.append(DiskSpace(str(where), usage.free, usage.total, tuple(purposes)))
    return disks
