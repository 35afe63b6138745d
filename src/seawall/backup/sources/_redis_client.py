"""What the Redis datastore shares: clients from a URL, redis-cli's arguments, private redis-servers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis

from seawall.backup.errors import BackupError
from seawall.backup.procs import find_tool
from seawall.probes.redact import redact, secrets_of

_START_TIMEOUT = 60.0


def scope(url: str) -> int | None:
    """The logical database a URL names (``/N`` or ``?db=N``), None when it names none.

    A datastore whose URL names a database is that database alone: backed up, restored, emptied
    and fingerprinted by itself, so a stack sharing a server with others touches only its own.
    A URL without one is the whole server, every logical database.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query).get("db")
    path = parts.path.strip("/") if parts.scheme != "unix" else ""
    text = query[0] if query else path
    return int(text) if text.isdigit() else None


def scoped(url: str, db: int | None) -> str:
    """``url`` naming logical database ``db`` (None: none, the whole server)."""
    parts = urlsplit(url)
    query = "&".join(f"{k}={v}" for k, vs in parse_qs(parts.query).items() if k != "db" for v in vs)
    return urlunsplit(parts._replace(path="" if db is None else f"/{db}", query=query))


def client(url: str, db: int = 0) -> redis.Redis:
    """A client of logical database ``db`` of the server at ``url``."""
    parts = urlsplit(url)
    return redis.Redis(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        db=db,
        ssl=parts.scheme == "rediss",
        socket_timeout=30,
        socket_connect_timeout=5,
    )


def error(exc: Exception, url: str, doing: str) -> BackupError:
    """A client error as a BackupError, the URL's secrets masked."""
    return BackupError(f"Redis {doing}: {redact(str(exc), secrets_of(url))}")


def cli_args(url: str) -> tuple[list[str], dict[str, str]]:
    """redis-cli's connection arguments and environment (the password in REDISCLI_AUTH, never argv)."""
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    if parts.username:
        args += ["--user", unquote(parts.username)]
    if parts.scheme == "rediss":
        args.append("--tls")
    env = {"REDISCLI_AUTH": unquote(parts.password)} if parts.password else {}
    return args, env


def dies_with_us(argv: Sequence[str]) -> list[str]:
    """``argv`` run so that the kernel kills it when Seawall dies (even by SIGKILL), when setpriv exists.

    A private redis-server or a ``redis-cli --rdb`` writing into staging would otherwise outlive a
    killed backup: nothing reads their output, so no broken pipe ever stops them.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else list(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def private_server(directory: Path, rdb: str = "dump.rdb") -> Iterator[str]:
    """A redis-server of our own on a free port, loading ``directory/rdb`` if present; killed after."""
    server = find_tool("redis-server")
    port = _free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    argv += ["--dbfilename", rdb, "--appendonly", "no", "--save", "", "--protected-mode", "yes"]
    proc = subprocess.Popen(dies_with_us(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                if client(url).ping():
                    break
            except redis.BusyLoadingError:
                pass
            except redis.ConnectionError:
                if proc.poll() is not None:
                    raise BackupError(
                        f"redis-server could not load the snapshot (exit {proc.returncode})"
                    ) from None
            if time.monotonic() > deadline:
                raise BackupError(f"the private redis-server did not start within {_START_TIMEOUT:g}s")
            time.sleep(0.05)
        yield url
    finally:
        proc.kill()
        proc.wait()
