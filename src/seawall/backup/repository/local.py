"""A repository in a local directory: ``<root>/<stack>/<backup-id>/`` with ``manifest.json`` written last."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO

from seawall import clock
from seawall.backup.errors import BackupError, BackupNotFound, ManifestCorrupt
from seawall.backup.manifest import Manifest, is_backup_id
from seawall.backup.repository.lock import LockOwner, hold_lock
from seawall.backup.repository.writeback import EarlyWriteback

MANIFEST = "manifest.json"
LOCK = "lock"
STAGING_PREFIX = ".staging-"
STAGING_OWNER = ".owner"
_YOUNG = 1.0  # seconds: a staging directory this new may not have its owner file yet (microseconds)


def _locked_owner(directory: Path) -> int:
    """The directory's owner file, created locked and then moved in: the sweep never sees it unlocked.

    The kernel drops the flock when this process dies, even by SIGKILL; the fd is the caller's to close.
    """
    spare = directory.with_name(directory.name + STAGING_OWNER)
    fd = os.open(spare, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(spare, directory / STAGING_OWNER)
    return fd


def _remove_staging(path: Path) -> None:
    """Everything but the owner file first: killed midway, the directory still says it is abandoned."""
    for child in path.iterdir() if path.is_dir() else ():
        if child.name == STAGING_OWNER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def _abandoned(path: Path) -> bool:
    """Whether no live process owns this staging directory (its owner file is not flock'd)."""
    owner = path / STAGING_OWNER if path.is_dir() else path  # a file: an owner file not moved in yet
    try:
        fd = os.open(owner, os.O_RDWR)
    except FileNotFoundError:  # made by an older Seawall, or by one not yet past mkdtemp
        return clock.now() - path.stat().st_mtime > _YOUNG
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalRepository:
    """Backups as plain files; every rename that publishes something is followed by a directory fsync."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def _dir(self, stack: str, backup_id: str) -> Path:
        if not is_backup_id(backup_id):
            raise BackupNotFound(f"{backup_id!r} is not a backup id")
        return self.root / stack / backup_id

    def lock(self, stack: str, purpose: str) -> AbstractContextManager[LockOwner | None]:
        """The stack's writer lock file, ``<root>/<stack>/lock``."""
        return hold_lock(self.root / stack / LOCK, purpose)

    def begin(self, stack: str, backup_id: str) -> None:
        """Create the backup's directory (invisible until its manifest exists)."""
        path = self._dir(stack, backup_id)
        try:
            path.mkdir(parents=True)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise BackupError(f"cannot create {path}: {exc.strerror or exc}") from exc

    @contextmanager
    def staging(self, stack: str) -> Iterator[Path]:
        """``<root>/<stack>/.staging-*``, removed on exit (and by the sweep after a crash).

        A read-only repository (a backup disk mounted ro) can still be verified and restored
        from: its readers stage in the system's temporary directory instead. The directory holds
        a flock'd owner file for as long as it is in use: restores and deep verifications stage
        here without the writer lock, and a backup's sweep must leave a live one alone.
        """
        base = self.root / stack
        try:
            base.mkdir(parents=True, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=base)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES):
                raise
            tmp = tempfile.mkdtemp(prefix=STAGING_PREFIX)
        owner = _locked_owner(Path(tmp))
        try:
            yield Path(tmp)
        finally:
            _remove_staging(Path(tmp))
            os.close(owner)

    @contextmanager
    def write_artifact(self, stack: str, backup_id: str, name: str) -> Iterator[BinaryIO]:
        """Exclusive create; fsynced on success, removed on failure."""
        path = self._dir(stack, backup_id) / name
        with EarlyWriteback(path) as out:
            try:
                yield out
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                path.unlink(missing_ok=True)
                raise

    @contextmanager
    def read_artifact(self, stack: str, backup_id: str, name: str) -> Iterator[BinaryIO]:
        """Open for reading (BackupError if it is gone)."""
        path = self._dir(stack, backup_id) / name
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below, after the caller's block
        except OSError as exc:
            raise BackupError(f"backup {backup_id}: cannot open artifact {name}: {exc.strerror}") from exc
        with stream:
            yield stream

    def artifact_size(self, stack: str, backup_id: str, name: str) -> int | None:
        """Size on disk, None if missing."""
        try:
            return (self._dir(stack, backup_id) / name).stat().st_size
        except FileNotFoundError:
            return None

    def remove_artifact(self, stack: str, backup_id: str, name: str) -> None:
        """Unlink one artifact if present."""
        (self._dir(stack, backup_id) / name).unlink(missing_ok=True)

    def commit(self, manifest: Manifest) -> None:
        """Write to a temporary name, fsync, rename, fsync the directory."""
        path = self._dir(manifest.stack, manifest.id)
        tmp = path / f".{MANIFEST}.tmp"
        try:
            _fsync_dir(path)  # the artifacts' directory entries are durable before the manifest
            with open(tmp, "wb") as out:
                out.write(manifest.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, path / MANIFEST)
            _fsync_dir(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"cannot commit the manifest of {manifest.id}: {exc.strerror or exc}") from exc

    def abort(self, stack: str, backup_id: str) -> None:
        """Remove the uncommitted backup's directory."""
        shutil.rmtree(self._dir(stack, backup_id), ignore_errors=True)

    def backup_ids(self, stack: str) -> list[str]:
        """Committed backups, oldest first (ids sort by time)."""
        base = self.root / stack
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if is_backup_id(p.name) and (p / MANIFEST).is_file())

    def manifest_stamps(self, stack: str) -> dict[str, tuple[int, int]]:
        """One stat per backup; a manifest that vanishes meanwhile is left out, as if never committed."""
        base = self.root / stack
        if not base.is_dir():
            return {}
        stamps = {}
        for entry in os.scandir(base):
            if not is_backup_id(entry.name):
                continue
            try:
                st = os.stat(os.path.join(entry.path, MANIFEST))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise BackupError(f"cannot read {entry.path}/{MANIFEST}: {exc.strerror}") from exc
            stamps[entry.name] = (st.st_size, st.st_mtime_ns)
        return stamps

    def read_manifest(self, stack: str, backup_id: str) -> Manifest:
        """Parse ``manifest.json``; BackupNotFound when the backup is not committed."""
        path = self._dir(stack, backup_id) / MANIFEST
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BackupNotFound(f"no backup {backup_id} in {self.root / stack}") from None
        except OSError as exc:
            raise BackupError(f"cannot read {path}: {exc.strerror}") from exc
        manifest = Manifest.from_json(data, str(path))
        if manifest.id != backup_id or manifest.stack != stack:
            raise ManifestCorrupt(
                f"manifest {path} is corrupt: it names backup {manifest.id} of stack {manifest.stack}"
            )
        return manifest

    def delete(self, stack: str, backup_id: str) -> None:
        """Manifest first, so a crash midway leaves an incomplete (invisible) backup, not a broken one."""
        path = self._dir(stack, backup_id)
        (path / MANIFEST).unlink(missing_ok=True)
        _fsync_dir(path)
        shutil.rmtree(path, ignore_errors=True)

    def sweep_incomplete(self, stack: str) -> list[str]:
        """Remove backup directories without a manifest (the caller holds the writer lock, so their
        writers are dead) and staging directories no live process owns; the backup ids removed."""
        base = self.root / stack
        if not base.is_dir():
            return []
        swept = []
        for p in sorted(base.iterdir()):
            if p.name.startswith(STAGING_PREFIX) and _abandoned(p):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
            elif is_backup_id(p.name) and p.is_dir() and not (p / MANIFEST).is_file():
                shutil.rmtree(p, ignore_errors=True)
                if not p.exists():
                    swept.append(p.name)
        return swept

    def usage(self, stack: str) -> int:
        """Bytes of all files under the stack's directory."""
        base = self.root / stack
        return sum(f.stat().st_size for f in base.rglob("*") if f.is_file()) if base.is_dir() else 0
