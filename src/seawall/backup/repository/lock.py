"""The one-writer lock of a local repository: a kernel flock plus the owner's pid and host."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seawall import clock
from seawall.backup.errors import RepositoryLocked, RepositoryUnwritable


@dataclass(frozen=True, slots=True)
class LockOwner:
    """Who holds (or last held) a lock."""

    pid: int
    host: str
    since: float
    purpose: str

    def describe(self) -> str:
        """pid 123 on host h since <time> (purpose)."""
        return f"pid {self.pid} on {self.host} since {clock.iso(self.since)} ({self.purpose})"


def _read_owner(fd: int) -> LockOwner | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        doc = json.loads(raw)
        owner = LockOwner(int(doc["pid"]), str(doc["host"]), float(doc["since"]), str(doc["purpose"]))
        owner.describe()  # a record that cannot be told (a time past year 9999) is no record
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    return owner if 0 < owner.pid < 2**31 else None


def _unwritable(path: Path, exc: OSError) -> RepositoryUnwritable:
    return RepositoryUnwritable(
        f"cannot write the lock of the backup repository {path.parent}: {exc.strerror or exc}",
        hint="the repository must be on a writable disk with free space",
    )


@contextmanager
def hold_lock(path: Path, purpose: str) -> Iterator[LockOwner | None]:
    """Hold the lock at ``path``; yields the stale owner it took over from, if any.

    The kernel drops a flock when its process dies (even by SIGKILL), so a dead writer never
    blocks the next one; the owner record left in the file is what tells us it was stale.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            who = owner.describe() if owner else "another process"
            raise RepositoryLocked(
                f"the backup repository {path.parent} is locked by {who}",
                hint="wait for that backup to finish; a lock of a dead process is taken over automatically",
            ) from None
        stale = _read_owner(fd)
        me = LockOwner(os.getpid(), socket.gethostname(), clock.now(), purpose)
        record = json.dumps({"pid": me.pid, "host": me.host, "since": me.since, "purpose": purpose})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise _unwritable(path, exc) from exc
        try:
            yield stale
        finally:
            # an empty file means "free"; the flock itself is what excludes other writers
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
