"""The datastore interface: dump to a stream, restore from one, fingerprint, scratch targets."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from seawall.backup.pipeline import Readable
from seawall.probes.redact import redact_url


class VolumeLister(Protocol):
    """The engine API as the container datastores use it (``seawall.runtime._engine_api.EngineApi``)."""

    host: str

    def volumes(self, project: str) -> list[dict[str, Any]]:
        """The named volumes of a compose project, as the engine lists them."""
        ...


# datastores reached through a server by URL (the others are a path on this machine): their data
# is restored through the server, which therefore keeps running while it is
SERVER_KINDS = ("postgres", "mysql", "redis")


class ContainerEngine(Protocol):
    """What a datastore needs of a container runtime (``ComposeRuntime`` is one)."""

    @property
    def project(self) -> str:
        """The compose project's name."""
        ...

    @property
    def api(self) -> VolumeLister:
        """The engine's API."""
        ...

    def exec_argv(
        self, name: str, argv: Sequence[str], *, interactive: bool = False, env: Sequence[str] = ()
    ) -> list[str]:
        """The host command line that runs ``argv`` in the component's container, streams attached."""
        ...


@dataclass(frozen=True, slots=True)
class InContainer:
    """A datastore that lives in a compose service's container (and maybe in a named volume)."""

    engine: ContainerEngine = field(compare=False, repr=False)
    service: str
    volume: str | None = None  # the compose file's volume key (``volumes:`` of the service)
    mount: str | None = None  # where the service mounts that volume, from the compose file

    def describe(self, path: Path | None) -> str:
        """Where the data is, for messages."""
        where = f"{path} in " if path is not None else ""
        held = f", volume {self.volume}" if self.volume else ""
        return f"{where}service {self.service}{held}"


@dataclass(frozen=True, slots=True)
class Target:
    """Where one datastore's data lives (or is to be restored): a URL or an absolute path."""

    kind: str
    url: str | None = None
    path: Path | None = None
    exclude: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # config: paths relative to ``path`` that make up the stack's config
    extra: dict[str, Any] = field(default_factory=dict)
    container: InContainer | None = None  # reached through the container engine (compose runtime)

    def describe(self) -> str:
        """The location without secrets, for messages and the restore record."""
        if self.container is not None and self.url is None:
            return self.container.describe(self.path)
        return redact_url(self.url) if self.url else str(self.path)

    def moved_to(self, location: str) -> Target:
        """The same datastore kind at another place (``restore --to``), reached from this machine."""
        if self.url is not None:
            return replace(self, url=location, container=None)
        return replace(self, path=Path(location).expanduser().resolve(), container=None)


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
    """A running dump: read ``stream`` to its end, then ``finish`` checks every exit status.

    A dump may also set ``parsed_here = True`` when this process works on its stream as it passes
    (the files datastore's tree tap): the artifact is then written behind the compressor, in a
    thread of its own (``pipeline.encode``). Others leave it out.
    """

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
