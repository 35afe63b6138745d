"""Redis against private redis-servers started here (never the shared one on 6379)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest
import redis

from seawall.backup import create_backup, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup.errors import TargetNotEmpty
from seawall.backup.verify import compare
from seawall.config import StackConfig
from seawall.errors import UsageError

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
    redis.Redis.from_url(url + "/3").set("in-db-3", "yes")
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
    assert art.fingerprint["databases"]["db0"]["keys"] == 2006  # the keys without a time to live
    assert art.fingerprint["databases"]["db0"]["expiring"]["keys"] == 1
    assert art.fingerprint["databases"]["db3"]["keys"] == 1
    assert "database" not in art.position  # the URL names none: the whole server
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


def test_keys_that_expire_after_the_backup_do_not_fail_its_proof(
    make_stack: MakeStack, redis_server: RedisServer
) -> None:
    """A key whose time to live runs out between backup and restore is legitimately gone."""
    source, _ = redis_server()
    client = redis.Redis.from_url(source)
    client.set("lasting", "1")
    client.set("session", "abc", px=1500)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": source}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    recorded = backup.artifacts[0].fingerprint["databases"]["db0"]
    assert recorded["keys"] == 1
    assert recorded["expiring"]["keys"] == 1
    assert verify_backup(stack, backup.id, deep=True).ok  # still alive: compared exactly
    client.set("lasting", "changed")
    client.close()
    time.sleep(max(0.0, recorded["expiring"]["valid_until"] - time.time()) + 0.2)
    assert verify_backup(stack, backup.id, deep=True).ok
    target, _ = redis_server()
    result = run_restore(stack, backup.id, component="cache", to=target)
    assert result.components[0].fingerprint_ok
    restored = redis.Redis.from_url(target)
    assert restored.get("lasting") == b"1"
    assert restored.get("session") is None
    restored.close()


def test_compare_checks_expiring_keys_until_their_moment_and_the_lasting_ones_always() -> None:
    ahead, past = time.time() + 3600, time.time() - 1
    expiring = {"keys": 2, "digest": "aa"}
    lasting = {"keys": 5, "digest": "bb"}

    def db(until: float, **restored: object) -> tuple[dict[str, object], dict[str, object]]:
        return {"db0": {**lasting, "expiring": {**expiring, "valid_until": until}}}, {"db0": restored}

    recorded, restored = db(ahead, **lasting, expiring={**expiring, "valid_until": ahead + 0.004})
    assert compare(recorded, restored) is None  # the moment itself is a few ms off after a restore
    recorded, restored = db(ahead, **lasting, expiring={"keys": 1, "digest": "cc"})
    assert compare(recorded, restored) is not None
    recorded, restored = db(ahead, **lasting)
    assert compare(recorded, restored) is not None
    recorded, restored = db(past, **lasting)
    assert compare(recorded, restored) is None
    recorded, restored = db(past, keys=5, digest="dd")
    assert compare(recorded, restored) == "db0: digest: backed up 'bb', restored 'dd'"


def test_a_url_naming_a_database_is_that_database_alone(
    make_stack: MakeStack, redis_server: RedisServer
) -> None:
    """Backed up, found empty, restored and emptied by itself: a shared server's other databases stay."""
    server, _ = redis_server()
    ours, theirs = redis.Redis.from_url(server + "/3"), redis.Redis.from_url(server + "/0")
    ours.set("mine", "1")
    theirs.set("theirs", "1")
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": server + "/3"}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert art.position["database"] == 3
    assert set(art.fingerprint["databases"]) == {"db3"}
    assert any("also holds keys in db0" in note for note in art.notes)
    ours.flushdb()
    theirs.set("theirs", "2")  # written after the backup: a restore of db 3 must not roll it back
    result = run_restore(stack, backup.id)  # db 3 is empty: no --force needed, though db 0 is not
    assert result.components[0].fingerprint_ok
    assert ours.get("mine") == b"1"
    assert theirs.get("theirs") == b"2"
    elsewhere, _ = redis_server()
    run_restore(stack, backup.id, component="cache", to=elsewhere)
    assert redis.Redis.from_url(elsewhere + "/3").get("mine") == b"1"  # into the database it came from
    assert redis.Redis.from_url(elsewhere).dbsize() == 0
    assert verify_backup(stack, backup.id, deep=True).ok
    ours.close()
    theirs.close()


@pytest.mark.parametrize(
    ("to", "why"),
    [
        ("notaurl", "scheme and a host"),
        ("postgresql://127.0.0.1/db", "scheme and a host"),
        ("redis://127.0.0.1:6379/3", "leave out the database number"),
    ],
)
def test_a_mistyped_redis_target_is_refused_before_anything_is_touched(
    make_stack: MakeStack, redis_server: RedisServer, to: str, why: str
) -> None:
    """A URL that parses as nothing must not fall back to the default server on 127.0.0.1:6379."""
    source, _ = redis_server()
    redis.Redis.from_url(source).set("k", "v")
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": source}}})
    backup = create_backup(stack, components=["cache"])
    with pytest.raises(UsageError, match=why):
        run_restore(stack, backup.id, component="cache", to=to, force=True)
