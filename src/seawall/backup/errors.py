"""Backup errors, each a subclass of the one tree in ``seawall.errors`` (exit codes follow it)."""

from __future__ import annotations

from seawall.errors import OperationError, UserError


class BackupError(OperationError):
    """A backup, verification or restore failed at run time."""


class DatastoreFailed(BackupError):
    """One datastore could not be dumped or restored: a tool exited non-zero, a server went away."""

    def __init__(self, component: str, message: str, *, hint: str | None = None) -> None:
        self.component = component
        super().__init__(f"{component}: {message}", hint=hint)


class ArtifactCorrupt(BackupError):
    """An artifact's size or sha256 differs from its manifest: the bytes on disk are not the backup."""

    def __init__(self, backup_id: str, artifact: str, reason: str) -> None:
        self.backup_id = backup_id
        self.artifact = artifact
        super().__init__(f"backup {backup_id}: artifact {artifact} is corrupt: {reason}")


class ManifestCorrupt(BackupError):
    """A committed manifest cannot be read or does not describe a backup."""


class RepositoryUnwritable(BackupError):
    """The repository's disk refused a write (full, read-only, over quota): the whole backup is abandoned."""


class RepositoryLocked(BackupError):
    """Another live process holds the repository's lock."""


class FingerprintMismatch(BackupError):
    """Restored data differs from what was recorded at backup time."""


class KeyRequired(UserError):
    """An encrypted backup cannot be read without a key, or the key given does not open it."""


class BackupNotFound(UserError):
    """No backup has that id (or there is no backup at all for 'latest')."""


class TargetNotEmpty(UserError):
    """A restore would overwrite existing data and --force was not given."""


class PruneRefused(UserError):
    """The retention policy would remove every backup of a group and --allow-remove-all was not given."""


__all__ = [
    "ArtifactCorrupt",
    "BackupError",
    "BackupNotFound",
    "DatastoreFailed",
    "FingerprintMismatch",
    "KeyRequired",
    "ManifestCorrupt",
    "PruneRefused",
    "RepositoryLocked",
    "RepositoryUnwritable",
    "TargetNotEmpty",
]
