"""Plain helpers the test modules import: free ports, the shared servers, the CLI, a mute server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pymysql
import redis

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
MYSQL_SERVER = "127.0.0.1:3306"
REDIS_DB = 15
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@dataclass(frozen=True)
class RedisScratch:
    """A client of db 15 on the shared Redis server and a key prefix that is ours alone."""

    client: redis.Redis
    prefix: str
    url: str = REDIS_URL


def free_port() -> int:
    """A TCP port nothing listens on right now: bound by the OS, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mariadb_admin() -> pymysql.Connection[pymysql.cursors.Cursor]:
    """A root connection to the shared MariaDB server (empty password), autocommitting."""
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


def run_cli(
    cwd: Path, *argv: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m seawall.cli ARGV`` in ``cwd`` (with ``env`` if given), output as text, any exit code."""
    return subprocess.run(
        [sys.executable, "-m", "seawall.cli", *argv],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers; yields its port."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # never answers; returns when the client hangs up
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]
