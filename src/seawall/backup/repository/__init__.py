"""Backup repositories behind one interface; ``open_repository`` picks one from the stack's settings."""

from __future__ import annotations

from seawall.backup.repository.base import Repository
from seawall.backup.repository.local import LocalRepository
from seawall.backup.repository.lock import LockOwner
from seawall.config import StackConfig
from seawall.errors import ConfigError


def open_repository(stack: StackConfig) -> Repository:
    """The repository named by ``backup.repository`` (a local path; s3:// comes later)."""
    location = stack.backup.repository
    if "://" in location:
        raise ConfigError(
            f"repository {location!r} is not supported yet: only local directories are",
            key="backup.repository",
        )
    return LocalRepository(stack.resolve(location))


__all__ = ["LocalRepository", "LockOwner", "Repository", "open_repository"]
