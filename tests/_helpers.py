"""Plain helpers the test modules import: ports, shared servers, the CLI, a mute server, polling, stacks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pymysql
import redis
import yaml

from seawall.config import StackConfig, load_stack

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


def pg_admin(sql: str) -> None:
    """Run one statement on the shared PostgreSQL server's ``postgres`` database, autocommitting."""
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.encode())


@contextlib.contextmanager
def pg_databases() -> Iterator[list[str]]:
    """A list for the names of databases a test creates; every one is dropped on exit."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def new_pg_database(names: list[str], schema: str) -> str:
    """A new ``seawall_test_<random>`` database filled by ``schema``; its name is appended to ``names``
    (the caller drops them). Returns its URL."""
    import secrets

    name = f"seawall_test_{secrets.token_hex(5)}"
    names.append(name)
    pg_admin(f"CREATE DATABASE {name}")
    with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
        conn.execute(schema.encode())
    return f"{PG_SERVER}/{name}"


def pg_count(url: str, table: str) -> int:
    """Rows in ``table`` of the database at ``url``."""
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
    assert row is not None
    return int(row[0])


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


def wait_for(
    check: Callable[[], Any], timeout: float = 20.0, what: str = "condition", interval: float = 0.05
) -> Any:
    """Poll ``check`` every ``interval`` seconds until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def write_stack(
    directory: Path, name: str, components: dict[str, dict[str, Any]], tag: str
) -> tuple[Path, StackConfig]:
    """Write ``directory/seawall.yaml``, each component's env tagged ``SEAWALL_TEST_TAG=tag``; load it."""
    for spec in components.values():
        spec.setdefault("env", {})["SEAWALL_TEST_TAG"] = tag
    config = directory / "seawall.yaml"
    data = {"stack": name, "state": {"path": "s"}, "components": components}
    config.write_text(yaml.safe_dump(data))
    return config, load_stack(config)


def kill_tagged(tag: str, config: Path) -> None:
    """SIGKILL the supervisor daemon of ``config`` and every process tagged ``SEAWALL_TEST_TAG=tag``."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            ours = ("seawall.runtime._daemon" in cmdline and str(config) in cmdline) or (
                proc.environ().get("SEAWALL_TEST_TAG") == tag
            )
            if ours and proc.pid != os.getpid():
                proc.kill()
        except psutil.Error:
            continue


def start_redis(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """A private redis-server on ``port`` in ``directory`` (no saves, no replication delay), answering."""
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    argv += ["--save", "", "--repl-diskless-sync-delay", "0", *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            with redis.Redis(port=port, socket_connect_timeout=1) as probe:
                probe.ping()
            return proc
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"redis-server {' '.join(extra)} did not start") from None
            time.sleep(0.02)


@contextlib.contextmanager
def private_redis(directory: Path, *extra: str) -> Iterator[int]:
    """A redis-server of our own on a free port, data in ``directory`` (never the shared 6379); yields its
    port and is killed on exit."""
    port = free_port()
    proc = start_redis(directory, port, *extra)
    try:
        yield port
    finally:
        proc.kill()
        proc.wait()
