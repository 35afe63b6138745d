"""A server that goes away mid-dump: that datastore fails, readably, and no manifest claims it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import psutil
import pymysql
import pytest
import redis

from _helpers import Mariadb, mariadb_admin, wait_for
from seawall.backup import create_backup, show_backup
from seawall.backup.create import BackupResult
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]
MariadbServer = Callable[..., Mariadb]

pytestmark = pytest.mark.integration


def assert_failed_alone(stack: StackConfig, result: BackupResult, component: str) -> str:
    """``component`` failed, the files datastore beside it did not; the manifest claims only the latter."""
    assert result.exit_code == 1
    assert [f.component for f in result.failed] == [component]
    manifest = show_backup(stack, result.id).manifest
    assert manifest.artifact(component) is None
    assert manifest.artifact("files") is not None
    assert not manifest.complete
    backup_dir = stack.root / "repo" / "shop" / result.id
    assert not any(p.name.startswith(component) for p in backup_dir.iterdir())
    assert not list((stack.root / "repo").rglob(".staging-*"))
    return result.failed[0].error


def test_redis_killed_during_the_rdb_transfer(make_stack: MakeStack, redis_server: RedisServer) -> None:
    url, server = redis_server("--enable-debug-command", "yes")
    with redis.Redis.from_url(url) as client:
        client.execute_command("DEBUG", "POPULATE", 30000, "key", 200)
        client.config_set("rdb-key-save-delay", 100)  # microseconds per key: a transfer of about 3 s
    stack = make_stack(
        {
            "cache": {"datastore": {"kind": "redis", "url": url}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    killed = threading.Event()

    def kill_when_bytes_arrive() -> None:
        def receiving() -> bool:
            return any(p.stat().st_size > 0 for p in (stack.root / "repo").rglob(".staging-*/dump.rdb"))

        wait_for(receiving, timeout=30, what="the RDB transfer to start", interval=0.005)
        # the server and its fork streaming the RDB: the whole machine of the server goes away
        for proc in [*psutil.Process(server.pid).children(recursive=True), psutil.Process(server.pid)]:
            proc.kill()
        killed.set()

    killer = threading.Thread(target=kill_when_bytes_arrive)
    killer.start()
    started = time.monotonic()
    try:
        result = create_backup(stack)
    finally:
        killer.join()
    assert killed.is_set()
    assert time.monotonic() - started < 30
    error = assert_failed_alone(stack, result, "cache")
    assert error == "redis-cli --rdb failed: I/O Error reading RDB payload from socket"


def test_mariadb_dump_connection_killed_mid_dump(make_stack: MakeStack, mariadb_db: str) -> None:
    admin = mariadb_admin()
    with admin.cursor() as cur:
        cur.execute(f"USE `{mariadb_db}`")
        cur.execute("CREATE TABLE t (id INT, body TEXT) ENGINE=InnoDB")
        cur.execute("INSERT INTO t SELECT seq, REPEAT(MD5(seq), 8) FROM seq_1_to_300000")
    stack = make_stack(
        {
            "db": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1:3306/{mariadb_db}"}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    killed: list[int] = []

    def dump_session() -> int | None:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                (mariadb_db, "SELECT /*!40001 SQL_NO_CACHE */%"),
            )
            row = cur.fetchone()
        return int(row[0]) if row else None

    def progress(component: str, done: int, total: int | None) -> None:
        if component == "db" and done > 0 and not killed:
            session = wait_for(
                dump_session, timeout=20, what="mariadb-dump to read the table", interval=0.005
            )
            with admin.cursor() as cur:
                cur.execute(f"KILL {session}")
            killed.append(session)

    try:
        result = create_backup(stack, progress=progress)
    finally:
        admin.close()
    assert killed
    error = assert_failed_alone(stack, result, "db")
    assert "mariadb-dump exited with status" in error or "mysqldump exited with status" in error, error
    assert "Lost connection" in error or "Query execution was interrupted" in error, error


@pytest.fixture
def private_mariadb(mariadb_server: MariadbServer) -> tuple[int, subprocess.Popen[bytes]]:
    """A mariadbd of our own (own datadir, free port): its port and process; killed and removed after."""
    server = mariadb_server()
    return server.port, server.proc


def test_a_private_mariadb_server_killed_mid_dump(
    make_stack: MakeStack, private_mariadb: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, server = private_mariadb
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute("CREATE TABLE shop.t (id INT, body TEXT) ENGINE=InnoDB")
        cur.execute("USE shop")
        cur.execute("INSERT INTO t SELECT seq, REPEAT(MD5(seq), 8) FROM seq_1_to_300000")
    conn.close()
    stack = make_stack(
        {
            "db": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1:{port}/shop"}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )

    def progress(component: str, done: int, total: int | None) -> None:
        if component == "db" and done > 0 and server.poll() is None:
            server.kill()  # the whole server, as when its machine dies
            server.wait()

    result = create_backup(stack, progress=progress)
    assert server.returncode is not None
    error = assert_failed_alone(stack, result, "db")
    assert "Lost connection" in error or "server has gone away" in error, error
