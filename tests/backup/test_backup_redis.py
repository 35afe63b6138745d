"""Redis against private redis-servers started here (never the shared one on 6379)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import redis

from seawall.backup import create_backup, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup.errors import TargetNotEmpty
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]


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
    make_stack: MakeStack, redis_server: RedisServer
) -> None:
    source, _ = redis_server("--appendonly", "no")
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

    target, proc = redis_server("--appendonly", "yes")
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
    redis_server("--appendonly", "yes", port=port)  # the same directory: only its AOF holds the data
    again = redis.Redis(port=port)
    assert again.dbsize() == 2007
    assert again.get("stale") is None
    again.close()
