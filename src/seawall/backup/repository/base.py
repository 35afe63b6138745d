"""The repository interface the engine writes to: local directories now, object stores later."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from seawall.backup.manifest import Manifest
from seawall.backup.repository.lock import LockOwner


class Repository(Protocol):
    """Where backups live. A backup exists once, and only once, its manifest is committed."""

    location: str

    def lock(self, stack: str, purpose: str) -> AbstractContextManager[LockOwner | None]:
        """Exclusive writer lock for one stack; yields the stale owner it took over, if any."""
        ...

    def begin(self, stack: str, backup_id: str) -> None:
        """Prepare space for a new, still invisible backup."""
        ...

    def staging(self, stack: str) -> AbstractContextManager[Path]:
        """A private scratch directory on the repository's disk (for tools that need a file)."""
        ...

    def write_artifact(self, stack: str, backup_id: str, name: str) -> AbstractContextManager[BinaryIO]:
        """A new artifact opened for writing; durable when the context exits without error."""
        ...

    def read_artifact(self, stack: str, backup_id: str, name: str) -> AbstractContextManager[BinaryIO]:
        """An artifact of a committed backup opened for reading."""
        ...

    def artifact_size(self, stack: str, backup_id: str, name: str) -> int | None:
        """The stored size of an artifact, None if it is missing."""
        ...

    def remove_artifact(self, stack: str, backup_id: str, name: str) -> None:
        """Drop an artifact of an uncommitted backup (its datastore failed)."""
        ...

    def commit(self, manifest: Manifest) -> None:
        """Atomically publish the manifest: from now on the backup exists."""
        ...

    def abort(self, stack: str, backup_id: str) -> None:
        """Remove everything of an uncommitted backup."""
        ...

    def backup_ids(self, stack: str) -> list[str]:
        """Ids of committed backups, oldest first."""
        ...

    def manifest_stamps(self, stack: str) -> dict[str, tuple[int, int]]:
        """Committed backups with their manifest's (size, mtime in ns): a cheap sign that it changed."""
        ...

    def read_manifest(self, stack: str, backup_id: str) -> Manifest:
        """The committed manifest (ManifestCorrupt if it cannot be parsed)."""
        ...

    def delete(self, stack: str, backup_id: str) -> None:
        """Remove a backup: first its manifest (so it stops existing), then its artifacts."""
        ...

    def sweep_incomplete(self, stack: str) -> list[str]:
        """Remove leftovers of backups that never committed (call with the lock held)."""
        ...

    def usage(self, stack: str) -> int:
        """Bytes used by the stack's backups."""
        ...
