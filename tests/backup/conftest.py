"""Backup test fixtures: a stack directory with a files and a SQLite datastore; private Redis and MariaDB
servers."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from _helpers import Mariadb, free_port, start_mariadb, start_redis, sweep_mariadb_dirs
from seawall.config import StackConfig, load_stack

MakeStack = Callable[..., StackConfig]


def fill_tree(root: Path) -> None:
    """A small tree: nested dirs, a symlink, odd modes, an old mtime and a file to exclude."""
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    (root / "sub" / "deep" / "c.txt").write_text("gamma" * 1000)
    (root / "secret.txt").write_text("mode 600")
    (root / "secret.txt").chmod(0o600)
    os.utime(root / "a.txt", (1_000_000_000, 1_000_000_000))
    (root / "link").symlink_to("sub/b.bin")
    (root / "cache.tmp").write_text("excluded")


def fill_db(path: Path, rows: int = 500) -> None:
    """A WAL-mode SQLite database with two tables (committed rows may sit in -wal)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, qty INTEGER)")
    db.execute("CREATE TABLE notes (body BLOB)")
    db.executemany("INSERT INTO orders(item, qty) VALUES (?, ?)", [(f"item{i}", i) for i in range(rows)])
    db.execute("INSERT INTO notes VALUES (?)", (os.urandom(64),))
    db.commit()
    db.close()


@pytest.fixture
def make_stack(tmp_path: Path) -> MakeStack:
    """Write seawall.yaml with a files and a sqlite datastore (plus ``extra`` config) and load it."""

    def make(components: dict[str, Any] | None = None, **backup: Any) -> StackConfig:
        data = tmp_path / "data"
        if not data.exists():
            data.mkdir()
            fill_tree(data)
            fill_db(tmp_path / "app.db")
        doc = {
            "stack": "shop",
            "components": components
            if components is not None
            else {
                "files": {"datastore": {"kind": "files", "path": "data", "exclude": ["*.tmp"]}},
                "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            },
            "backup": {"repository": "repo", **backup},
        }
        (tmp_path / "seawall.yaml").write_text(yaml.safe_dump(doc))
        return load_stack(tmp_path / "seawall.yaml")

    return make


RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Private redis-servers (never the shared one), started with extra arguments; all killed after."""
    procs: list[subprocess.Popen[bytes]] = []

    def make(*extra: str, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
        """A new server, or with ``port`` one started again on the directory of an earlier one."""
        port = port or free_port()
        directory = tmp_path / f"redis-{port}"
        directory.mkdir(exist_ok=True)
        procs.append(start_redis(directory, port, *extra))
        return f"redis://127.0.0.1:{port}", procs[-1]  # no database number: the whole server

    yield make
    for proc in procs:
        proc.kill()
        proc.wait()


MariadbServer = Callable[..., Mariadb]


@pytest.fixture(scope="module")
def mariadb_server() -> Iterator[MariadbServer]:
    """Private mariadbds (never the shared server), ``make(*options, binlog=False)``; each is killed and
    its directory removed when the module's tests are done (one module's servers are started once)."""
    if not (shutil.which("mariadb-install-db") and shutil.which("mariadbd")):
        pytest.skip("mariadb-install-db / mariadbd are not installed")
    sweep_mariadb_dirs()
    started: list[Mariadb] = []

    def make(*options: str, binlog: bool = False) -> Mariadb:
        started.append(start_mariadb(*options, binlog=binlog))
        return started[-1]

    try:
        yield make
    finally:
        for server in started:
            server.proc.kill()
            server.proc.wait()
            shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/repo``: a 2 MiB tmpfs of our own, unmounted afterwards (skipped where mount is denied)."""
    mountpoint = tmp_path / "repo"
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
