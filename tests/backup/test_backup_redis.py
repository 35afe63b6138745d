"""Redis against private redis-servers started here (never the shared one on 6379)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from seawall.backup import create_backup, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup.errors import TargetNotEmpty
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

Server = Callable[[str], tuple[str, subprocess.Popen[bytes]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(directory: Path, port: int, appendonly: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--appendonly",
            appendonly,
            "--save",
            "",
            "--repl-diskless-sync-delay",
            "0",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            time.sleep(0.02)
    client.close()
    return proc


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Start private servers (appendonly as asked) in their own directories; all killed after."""
    procs: list[subprocess.Popen[bytes]] = []

    def make(appendonly: str) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        directory = tmp_path / f"redis-{port}"
        directory.mkdir()
        proc = start(directory, port, appendonly)
        procs.append(proc)
        return f"redis://127.0.0.1:{port}/0", proc

    yield make
    for proc in procs:
        proc.kill()
        proc.wait()


def fill(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.set("s", b"\x00binary\xff")
    client.set("ttl", "soon", ex=3600)
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.rpush("l", *range(100))
    client.sadd("set", "x", "y")
    client.zadd("z", {"m": 1.5, "n": 2})
    client.xadd("stream", {"f": "v"})
    for i in range(2000):
        client.set(f"k:{i}", i)
    redis.Redis.from_url(url.replace("/0", "/3")).set("in-db-3", "yes")
    client.close()


def test_rdb_round_trip_into_an_aof_server_survives_its_restart(
    make_stack: MakeStack, server: Server, tmp_path: Path
) -> None:
    source, _ = server("no")
    fill(source)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": source}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert art.format == "rdb"
    assert art.position["master_repl_offset"] is not None
    assert art.fingerprint["databases"]["db0"]["keys"] == 2007
    assert art.fingerprint["databases"]["db3"]["keys"] == 1
    assert verify_backup(stack, backup.id, deep=True).ok

    target, proc = server("yes")
    redis.Redis.from_url(target).set("stale", 1)
    with pytest.raises(TargetNotEmpty):
        run_restore(stack, backup.id, component="cache", to=target)
    result = run_restore(stack, backup.id, component="cache", to=target, force=True)
    assert result.components[0].fingerprint_ok
    assert result.safety_backup
    client = redis.Redis.from_url(target)
    assert client.dbsize() == 2007
    assert client.get("s") == b"\x00binary\xff"
    assert 0 < client.ttl("ttl") <= 3600
    # with appendonly on, only what the AOF holds survives a restart: the restore must be in it
    port = int(target.rsplit(":", 1)[1].split("/")[0])
    client.close()
    proc.terminate()
    proc.wait()
    restarted = start(tmp_path / f"redis-{port}", port, "yes")
    try:
        again = redis.Redis(port=port)
        assert again.dbsize() == 2007
        assert again.get("stale") is None
        again.close()
    finally:
        restarted.kill()
        restarted.wait()
