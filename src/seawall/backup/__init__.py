"""Backups of every datastore of a stack: create, list, verify (deep: by restoring), prune, restore."""

from __future__ import annotations

from seawall.backup.create import BackupResult, create_backup
from seawall.backup.crypto import keygen
from seawall.backup.listing import BackupDetail, BackupInfo, BackupList, list_backups, show_backup
from seawall.backup.manifest import Artifact, Failure, Manifest
from seawall.backup.prune import PruneResult, prune
from seawall.backup.restore import ComponentRestore, RestoreResult, restore
from seawall.backup.verify import ArtifactCheck, ManifestCheck, VerifyResult, verify_backup

__all__ = [
    "Artifact",
    "ArtifactCheck",
    "BackupDetail",
    "BackupInfo",
    "BackupList",
    "BackupResult",
    "ComponentRestore",
    "Failure",
    "Manifest",
    "ManifestCheck",
    "PruneResult",
    "RestoreResult",
    "VerifyResult",
    "create_backup",
    "keygen",
    "list_backups",
    "prune",
    "restore",
    "show_backup",
    "verify_backup",
]
