"""Plain helpers the test modules import: ports, shared servers, the CLI, a mute server, polling, stacks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
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


@dataclass(frozen=True)
class Mariadb:
    """A private mariadbd: root without a password over TCP on ``port``; its binlogs, if on, are
    ``directory/binlog.*``."""

    port: int
    proc: subprocess.Popen[bytes]
    directory: Path

    @property
    def url(self) -> str:
        """The server's URL, without a database."""
        return f"mysql://root@127.0.0.1:{self.port}"

    def connect(self, database: str | None = None) -> pymysql.Connection[pymysql.cursors.Cursor]:
        """A root connection, autocommitting."""
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            database=database,
            autocommit=True,
            charset="utf8mb4",
        )


MARIADB_DIR = "seawall-my-"


def sweep_mariadb_dirs() -> None:
    """Remove the directories of private mariadbds whose test process died without its teardown (each
    holds a datadir): their names carry that process's pid."""
    for path in Path(tempfile.gettempdir()).glob(f"{MARIADB_DIR}*"):
        found = re.fullmatch(rf"{MARIADB_DIR}(\d+)-.*", path.name)
        if found and not psutil.pid_exists(int(found.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def start_mariadb(*options: str, binlog: bool = False) -> Mariadb:
    """A new mariadbd of our own (a fresh datadir in a new temporary directory, a free port), answering.

    The caller kills ``proc`` and removes ``directory``. The kernel kills the server if this process dies
    first (setpriv's parent-death signal; it follows the thread that started it, so start it from a
    thread that lives as long as the test process, as fixtures do).
    """
    # short: the socket path is limited to about 100 bytes
    directory = Path(tempfile.mkdtemp(prefix=f"{MARIADB_DIR}{os.getpid()}-"))
    data = directory / "data"
    small = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]
    # root@localhost without a password (also over TCP from 127.0.0.1), as on the shared server
    install = ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db"]
    install += ["--auth-root-authentication-method=normal", "--skip-name-resolve", *small]
    argv = ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={directory}/sock", "--user=root"]
    argv += ["--bind-address=127.0.0.1", "--skip-name-resolve", f"--pid-file={directory}/pid", *small]
    argv += [f"--log-error={directory}/error.log", "--innodb-flush-log-at-trx-commit=0"]
    argv += [f"--log-bin={directory}/binlog", "--server-id=1"] if binlog else ["--skip-log-bin"]
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
    try:
        subprocess.run(install, check=True, capture_output=True, timeout=60)
        port = free_port()
        proc = subprocess.Popen(
            [*prefix, *argv, f"--port={port}", *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    server = Mariadb(port, proc, directory)

    def up() -> bool:
        if proc.poll() is not None:
            log = (directory / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the private mariadbd exited with status {proc.returncode}: {log}")
        try:
            server.connect().close()
        except pymysql.MySQLError:
            return False
        return True

    try:
        wait_for(up, timeout=30, what="the private mariadbd to accept connections")
    except BaseException:
        proc.kill()
        proc.wait()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


def order_count(path: Path) -> int:
    """Rows in the ``orders`` table of the SQLite file the backup tests' stacks hold."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])


def delete_orders(path: Path, keep: int) -> None:
    """Lose all but the first ``keep`` orders of that file: what a restore has to bring back."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM orders WHERE id > ?", (keep,))
