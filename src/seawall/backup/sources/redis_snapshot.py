"""A consistent RDB of a live Redis: by replication (``redis-cli --rdb``), else by BGSAVE and its file.

Replication is preferred: it works against any reachable server and writes nothing on the server's
disk. A server that forbids SYNC/PSYNC (``rename-command``, an ACL without ``+sync +psync``) can
still be backed up by BGSAVE when its RDB file is on this machine's disk; the file is read only after
the server reports that save finished and succeeded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from seawall.backup.errors import BackupError
from seawall.backup.procs import Proc, find_tool
from seawall.backup.sources._redis_client import cli_args, client, dies_with_us, error
from seawall.probes.redact import secrets_of

REPLICATION = "replication"
BGSAVE = "bgsave"
_REFUSED = "SYNC with master failed: -"  # redis-cli's words when the server answers SYNC with an error
_CHATTER = ("sending REPLCONF", "SYNC sent to master", "Transfer finished")  # progress, not the error
_WRITE_FAILED = "Error writing data to file"
_NEARLY_FULL = 1 << 20
_BGSAVE_TIMEOUT = 3600.0
_POLL = 0.05
_HINT = "allow SYNC and PSYNC (replication) or BGSAVE for the backup's Redis user"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """How the RDB was taken, and what the manifest should say about it."""

    method: str
    notes: list[str] = field(default_factory=list)


def take_snapshot(url: str, rdb: Path) -> Snapshot:
    """Write a consistent RDB of the server at ``url`` to ``rdb`` (replication first, then BGSAVE)."""
    cli = find_tool("redis-cli")
    args, env = cli_args(url)
    argv = dies_with_us([cli, *args, "--rdb", str(rdb)])
    with Proc(argv, env=env, stdin=subprocess.DEVNULL, secrets=secrets_of(url)) as proc:
        proc.name = "redis-cli"  # not setpriv, in messages
        try:
            proc.finish()
            return Snapshot(REPLICATION)
        except BackupError as exc:
            stderr = proc.stderr_text()
            refusal = _refusal(stderr)
            if refusal is None:  # the server went away or the disk failed: never a reason to try another way
                said = "; ".join(line for line in stderr.splitlines() if not line.startswith(_CHATTER))
                if _WRITE_FAILED in said and shutil.disk_usage(rdb.parent).free < _NEARLY_FULL:
                    # the staging disk is the repository's: create_backup abandons the whole backup
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(rdb)) from exc
                raise BackupError(f"redis-cli --rdb failed: {said or exc}") from exc
    rdb.unlink(missing_ok=True)
    where = bgsave(url, rdb, refusal)
    return Snapshot(BGSAVE, [f"replication refused ({refusal}): snapshot taken with BGSAVE from {where}"])


def _refusal(stderr: str) -> str | None:
    """The server's error reply to SYNC, if that is why redis-cli failed."""
    for line in stderr.splitlines():
        if _REFUSED in line:
            return _short(line.split(_REFUSED, 1)[1])
    return None


def _short(reply: str) -> str:
    """A server's error reply without the echo of the arguments Redis appends."""
    return reply.split(", with args beginning with", 1)[0].strip()


def bgsave(url: str, rdb: Path, refusal: str) -> str:
    """BGSAVE, wait until the server says it finished and succeeded, copy its RDB file; returns its path."""
    c = client(url)
    try:
        last = _start(c, refusal)
        path = _rdb_file(c, url)
        with open(path, "rb") as src:
            # another save may replace the file meanwhile: one open file is one whole snapshot
            if os.fstat(src.fileno()).st_mtime < last - 2:
                raise BackupError(
                    f"{path} is older than the BGSAVE that just finished: it is not this server's file"
                    " (is the server in a container?)",
                    hint=_HINT,
                )
            with open(rdb, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except redis.RedisError as exc:
        raise error(exc, url, "BGSAVE failed") from exc
    finally:
        c.close()
    return str(path)


def _persistence(c: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = c.info("persistence")
    return info


def _wait_idle(c: redis.Redis, deadline: float) -> dict[str, Any]:
    while (info := _persistence(c)).get("rdb_bgsave_in_progress"):
        if time.monotonic() > deadline:
            raise BackupError(f"Redis BGSAVE did not finish within {_BGSAVE_TIMEOUT:g}s")
        time.sleep(_POLL)
    return info


def _start(c: redis.Redis, refusal: str) -> float:
    """Run one BGSAVE of our own to its end; the server's LASTSAVE time of it."""
    deadline = time.monotonic() + _BGSAVE_TIMEOUT
    while True:
        before = _wait_idle(c, deadline)
        last = int(c.lastsave().timestamp())
        try:
            # SCHEDULE: an AOF rewrite in progress delays the save instead of refusing it
            c.bgsave(schedule=True)
            break
        except redis.ResponseError as exc:
            if "in progress" in str(exc):  # another save began since we looked: let it end, then ours
                continue
            raise BackupError(
                f"Redis refused replication ({refusal}) and BGSAVE ({_short(str(exc))}):"
                " no consistent snapshot can be taken",
                hint=_HINT,
            ) from exc
    while True:
        info = _wait_idle(c, deadline)
        now = int(c.lastsave().timestamp())
        done = (
            info["rdb_saves"] > before["rdb_saves"] if "rdb_saves" in info else now > last  # Redis < 7
        )
        if done:
            break
        if time.monotonic() > deadline:
            raise BackupError(f"Redis BGSAVE did not finish within {_BGSAVE_TIMEOUT:g}s")
        time.sleep(_POLL)
    status = info.get("rdb_last_bgsave_status")
    if status != "ok":
        raise BackupError(
            f"Redis BGSAVE failed on the server (rdb_last_bgsave_status: {status});"
            " its log says why (often its disk is full or not writable)"
        )
    return float(now)


def _rdb_file(c: redis.Redis, url: str) -> Path:
    """Where the server wrote its RDB, when that is on this machine's disk."""
    host = urlsplit(url).hostname or "127.0.0.1"
    if not _is_local(host):
        raise BackupError(
            f"Redis refused replication, and its BGSAVE file is on {host}'s disk, not this machine's",
            hint=_HINT,
        )
    try:
        directory = c.config_get("dir").get("dir")
        name = c.config_get("dbfilename").get("dbfilename")
    except redis.ResponseError as exc:
        raise BackupError(
            f"Redis BGSAVE finished but CONFIG GET is refused ({exc}): its RDB file cannot be found",
            hint=_HINT + ", or CONFIG GET dir/dbfilename",
        ) from exc
    path = Path(str(directory)) / str(name)
    if not path.is_file():
        raise BackupError(
            f"Redis BGSAVE wrote {path} on the server's side, which is not a file here"
            " (is the server in a container?)",
            hint=_HINT,
        )
    return path


def _is_local(host: str) -> bool:
    """Whether ``host`` is one of this machine's addresses (a socket can bind to it)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except OSError:
        return False
    for address in addresses:
        family = socket.AF_INET6 if ":" in str(address) else socket.AF_INET
        with contextlib.suppress(OSError), socket.socket(family) as s:
            s.bind((str(address), 0))
            return True
    return False
