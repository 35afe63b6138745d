"""The datastore interface: dump to a stream, restore from one, fingerprint, scratch targets."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from seawall.backup.pipeline import Readable
from seawall.probes.redact import redact_url


@dataclass(frozen=True, slots=True)
class Target:
    """Where one datastore's data lives (or is to be restored): a URL or an absolute path."""

    kind: str
    url: str | None = None
    path: Path | None = None
    exclude: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # config: paths relative to ``path`` that make up the stack's config
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The location without secrets, for messages and the restore record."""
        return redact_url(self.url) if self.url else str(self.path)

    def moved_to(self, location: str) -> Target:
        """The same datastore kind at another place (``restore --to``)."""
        if self.url is not None:
            return replace(self, url=location)
        return replace(self, path=Path(location).expanduser().resolve())


@dataclass(frozen=True, slots=True)
class DumpInfo:
    """What a finished dump knows about itself; goes into the artifact's manifest entry."""

    format: str
    tool_versions: dict[str, str] = field(default_factory=dict)
    server_version: str | None = None
    position: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Dump(Protocol):
    """A running dump: read ``stream`` to its end, then ``finish`` checks every exit status."""

    @property
    def stream(self) -> Readable:
        """The dump's bytes, read to the end by the pipeline."""
        ...

    @property
    def size_hint(self) -> int | None:
        """Expected byte count, for progress bars (None: unknown)."""
        ...

    def finish(self) -> DumpInfo:
        """Raise BackupError unless every process and thread of the dump succeeded."""
        ...


class Datastore(Protocol):
    """One kind of datastore. Methods raise ``BackupError`` subclasses, never third-party errors."""

    kind: str
    extension: str

    def dump(self, target: Target, staging: Path) -> AbstractContextManager[Dump]:
        """Start a consistent dump; ``staging`` is a private directory on the repository's disk."""
        ...

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Replace the target's data with the dump read from ``stream``; returns notes."""
        ...

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Counts and content hashes that two equal datasets share.

        ``like`` is a fingerprint recorded earlier, to be reproduced with the same method
        (a datastore whose fingerprint format changed keeps computing the old one for old backups).
        """
        ...

    def is_empty(self, target: Target) -> bool:
        """Whether restoring into ``target`` would overwrite nothing."""
        ...

    def scratch(self, like: Target) -> AbstractContextManager[Target]:
        """A new, empty target of the same kind (removed on exit) for verification."""
        ...
