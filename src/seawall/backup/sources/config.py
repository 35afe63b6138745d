"""The stack's own configuration: seawall.yaml, compose files and (encrypted backups only) .env."""

from __future__ import annotations

from pathlib import Path

from seawall.backup.sources.base import Target
from seawall.backup.sources.files import FilesDatastore
from seawall.config import StackConfig

COMPONENT = "stack-config"


def config_target(stack: StackConfig, encrypted: bool) -> tuple[Target, list[str]]:
    """The files that make up the stack's config, relative to its directory, and warnings."""
    root = stack.root.resolve()
    names: list[str] = []
    source = Path(stack.source).resolve() if stack.source is not None else None
    if source is not None and source.is_relative_to(root):
        names.append(str(source.relative_to(root)))
    for compose in (stack.compose_file, "docker-compose.yml", "compose.yaml", "compose.yml"):
        if compose and (root / compose).is_file() and compose not in names:
            names.append(compose)
    notes = []
    if (root / ".env").is_file():
        if encrypted:
            names.append(".env")
        else:
            notes.append(".env left out: it may hold secrets and this backup is not encrypted")
    return Target(kind="config", path=root, files=tuple(names)), notes


class ConfigDatastore(FilesDatastore):
    """A tar of the listed files; restoring writes just those files, nothing else is touched."""

    kind = "config"
    extension = ".tar"
