"""Files in a compose named volume: tarred on the host at the volume's mountpoint, else inside the container.

The artifact is the files datastore's own (a PAX tar, the same tree hash), so a backup made either
way restores either way, and into a host directory with ``--to``. The volume is found through the
engine API by compose's labels. When its mountpoint is a directory on this machine (a local engine:
unix socket) the host files datastore reads and writes it directly: GNU tar, the fastest path. Else
(a remote engine, a VM, a rootless engine's private mount namespace) the container's own ``tar``
runs through a streaming exec, with ``find``, ``xargs`` and ``rm`` to empty the target and ``sh``
to create it: busybox is enough. Every exec's exit status is checked.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from seawall.backup.errors import BackupError
from seawall.backup.procs import Proc
from seawall.backup.sources._container_tar import deletions, normalize, reencode, relative
from seawall.backup.sources._tarstream import Tree
from seawall.backup.sources.base import DumpInfo, InContainer, Target
from seawall.backup.sources.files import FilesDatastore
from seawall.errors import SeawallError

_LIST = 'test -d "$1" || exit 0; cd "$1" && exec find . -mindepth 1 -print0'
_REMOVE = 'cd "$1" && exec xargs -0 rm -rf --'
_EXTRACT = 'mkdir -p -- "$1" && exec tar -x -f - -C "$1"'


def volume_mountpoint(container: InContainer) -> Path | None:
    """The volume's directory on this machine, if the engine is local and the directory is readable."""
    if container.volume is None or urlsplit(container.engine.api.host).scheme != "unix":
        return None
    project = container.engine.project
    try:
        volumes = container.engine.api.volumes(project)
    except SeawallError:
        return None
    for volume in volumes:
        labels = volume.get("Labels") or {}
        if (
            labels.get("com.docker.compose.volume") == container.volume
            or volume.get("Name") == container.volume
        ):
            mountpoint = Path(str(volume.get("Mountpoint") or ""))
            return mountpoint if mountpoint.is_absolute() and mountpoint.is_dir() else None
    return None


def container_path(target: Target) -> str:
    """The datastore's directory inside the container: ``path``, relative ones under the volume's mount."""
    assert target.path is not None
    assert target.container is not None
    path = PurePosixPath(target.path.as_posix())
    if not path.is_absolute():
        if target.container.mount is None:
            raise BackupError(f"relative path {path} of {target.describe()} needs the volume's mount point")
        path = PurePosixPath(target.container.mount) / path
    return str(path)


def on_host(target: Target) -> Target | None:
    """The same target as a directory on this machine, when the volume's mountpoint is here."""
    assert target.path is not None
    assert target.container is not None
    mountpoint = volume_mountpoint(target.container)
    if mountpoint is None:
        return None
    if target.path.is_absolute() and target.path.is_relative_to(mountpoint):
        return replace(target, container=None)  # the path already names the mountpoint
    mount = target.container.mount
    inside = PurePosixPath(container_path(target))
    if mount is None or not inside.is_relative_to(mount):
        raise BackupError(
            f"{inside} is not in volume {target.container.volume}"
            + (f" (mounted at {mount} in service {target.container.service})" if mount else "")
        )
    return replace(target, path=mountpoint / inside.relative_to(mount), container=None)


def reachable(target: Target) -> Target | None:
    """The target as a directory on this machine (itself without a container), or None: exec it is."""
    return target if target.container is None else on_host(target)


@dataclass
class _ExecTarDump:
    proc: Proc
    stream: BinaryIO
    thread: threading.Thread
    tree: Tree
    errors: list[BaseException]
    size_hint: int | None = None

    def finish(self) -> DumpInfo:
        self.thread.join()
        self.proc.finish()  # tar's exit status inside the container, through the docker CLI's
        if self.errors:
            raise self.errors[0]
        return DumpInfo(format="tar-pax", fingerprint=self.tree.result(), notes=["read inside the container"])


class ContainerFilesDatastore:
    """A files datastore in a compose named volume; without a container it is the host files datastore."""

    kind = "files"
    extension = ".tar"

    def __init__(self) -> None:
        self.host = FilesDatastore()

    def _exec(self, target: Target, argv: list[str], *, interactive: bool = False) -> list[str]:
        assert target.container is not None
        return target.container.engine.exec_argv(target.container.service, argv, interactive=interactive)

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[Any]:
        """GNU tar at the mountpoint, else the container's tar re-encoded on the host as it streams."""
        if (local := reachable(target)) is not None:
            with self.host.dump(local, staging) as dump:
                yield dump
            return
        argv = self._exec(target, ["tar", "-c", "-f", "-", "-C", container_path(target), "."])
        with Proc(argv, stdin=subprocess.DEVNULL) as proc:
            source, tree, errors = proc.stdout, Tree(), []
            r, w = os.pipe()

            def run() -> None:
                try:
                    with os.fdopen(w, "wb") as out:
                        normalize(source, out, target.exclude, tree)
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=run, name="seawall-container-tar", daemon=True)
            thread.start()
            with os.fdopen(r, "rb") as reader:
                try:
                    yield _ExecTarDump(proc, reader, thread, tree, errors)
                finally:
                    proc.kill()  # a consumer that stopped early: the thread's reads end
                    reader.close()
                    thread.join()

    def _names(self, target: Target) -> list[str]:
        argv = self._exec(target, ["sh", "-c", _LIST, "sh", container_path(target)])
        with Proc(argv, stdin=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            raw = proc.stdout.read()
            proc.finish()
        return [relative(n.decode("utf-8", "surrogateescape")) for n in raw.split(b"\0") if n]

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Empty the target (excluded paths stay), then extract; each member checked on the way in."""
        if (local := reachable(target)) is not None:
            return self.host.restore(stream, local, staging)
        path = container_path(target)
        doomed = deletions(self._names(target), target.exclude)
        if doomed:
            argv = self._exec(target, ["sh", "-c", _REMOVE, "sh", path], interactive=True)
            with Proc(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc:
                assert proc.popen.stdin is not None
                with proc.popen.stdin as names:
                    names.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\0" for n in doomed))
                proc.finish()
        argv = self._exec(target, ["sh", "-c", _EXTRACT, "sh", path], interactive=True)
        with Proc(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc:
            assert proc.popen.stdin is not None
            try:
                with proc.popen.stdin as into:
                    reencode(stream, cast(BinaryIO, into), target.exclude)
            except BrokenPipeError:
                pass  # the container's tar stopped reading: its exit status says why
            except BaseException:
                proc.kill()
                raise
            proc.finish()
        return ["written inside the container"]

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Tree hash of the directory, read at the mountpoint or through the container's tar."""
        if (local := reachable(target)) is not None:
            return self.host.fingerprint(local, like)
        argv = self._exec(target, ["tar", "-c", "-f", "-", "-C", container_path(target), "."])
        with Proc(argv, stdin=subprocess.DEVNULL) as proc:
            tree = normalize(proc.stdout, None, target.exclude, Tree.like(like))
            proc.finish()
        return tree.result()

    def is_empty(self, target: Target) -> bool:
        """Missing, or nothing but excluded paths."""
        if (local := reachable(target)) is not None:
            return self.host.is_empty(local)
        return not deletions(self._names(target), target.exclude)

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A temporary directory on this machine (the artifact is the same either way)."""
        with self.host.scratch(replace(like, container=None)) as target:
            yield target
