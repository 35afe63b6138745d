"""The stack's own configuration: seawall.yaml, compose files and (encrypted backups only) .env.

On the compose runtime the artifact's manifest entry also records the image each service runs
(name, image id and registry digests), read from the engine, so a restore can say what ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seawall.backup.sources.base import Target
from seawall.backup.sources.files import FilesDatastore
from seawall.config import StackConfig
from seawall.errors import DaemonUnavailable

COMPONENT = "stack-config"


def running_images(stack: StackConfig) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The images of the stack's containers (compose runtime only), and a note if they are unknown."""
    if stack.runtime != "compose":
        return {}, []
    from seawall.runtime.compose import ComposeRuntime  # the engine only for compose stacks

    runtime = ComposeRuntime(stack)
    try:
        images = runtime.api.images(runtime.project)
    except DaemonUnavailable as exc:
        return {}, [f"image digests not recorded: {exc.message}"]
    if not images:
        return {}, ["image digests not recorded: the project has no containers"]
    return images, []


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
    images, image_notes = running_images(stack)
    extra = {"images": images} if images else {}
    return Target(kind="config", path=root, files=tuple(names), extra=extra), notes + image_notes


class ConfigDatastore(FilesDatastore):
    """A tar of the listed files; restoring writes just those files, nothing else is touched."""

    kind = "config"
    extension = ".tar"
