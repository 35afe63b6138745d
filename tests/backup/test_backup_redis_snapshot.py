"""How the Redis RDB is taken (replication, else BGSAVE, else a clear error); a restore refused up front."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from _helpers import run_cli
from seawall.backup import create_backup, list_backups, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup.errors import BackupError
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]

pytestmark = pytest.mark.integration

NO_REPLICATION = ("--rename-command", "SYNC", "", "--rename-command", "PSYNC", "")


def deny_sync_by_acl(url: str) -> str:
    """A backup user that may do anything but replicate; the default user off. Its URL."""
    with redis.Redis.from_url(url) as admin:
        admin.acl_setuser(
            "backup",
            enabled=True,
            passwords=["+s3cret"],
            keys=["*"],
            channels=["*"],
            commands=["+@all", "-sync", "-psync"],
        )
        admin.acl_setuser("default", enabled=False)
    return url.replace("redis://", "redis://backup:s3cret@")


def fill(url: str, keys: int = 500) -> None:
    with redis.Redis.from_url(url) as client:
        client.mset({f"k:{i}": i for i in range(keys)})
        client.hset("h", mapping={"a": "1"})
        client.set("ttl", "soon", ex=3600)
    with redis.Redis.from_url(url + "/2") as other:
        other.set("in-db-2", "yes")


def staging_left(root: Path) -> list[Path]:
    return list((root / "repo").rglob(".staging-*"))


def test_replication_is_the_first_choice(make_stack: MakeStack, redis_server: RedisServer) -> None:
    url, _ = redis_server()
    fill(url)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": url}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert art.position["snapshot"] == "replication"
    assert not any("BGSAVE" in n for n in art.notes)
    assert not list(Path(stack.root).rglob("redis-*/dump.rdb"))  # nothing written on the server's disk


@pytest.mark.parametrize("how", ["renamed", "acl"])
def test_forbidden_replication_falls_back_to_bgsave(
    make_stack: MakeStack, redis_server: RedisServer, how: str
) -> None:
    url, _ = redis_server(*(NO_REPLICATION if how == "renamed" else ()))
    fill(url)
    if how == "acl":
        url = deny_sync_by_acl(url)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": url}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert art.position["snapshot"] == "bgsave"
    note = next(n for n in art.notes if "BGSAVE" in n)
    assert "replication refused" in note
    assert "s3cret" not in str(art.to_dict())
    assert art.fingerprint["databases"]["db0"]["keys"] == 501  # and "ttl", counted apart as expiring
    assert art.fingerprint["databases"]["db2"]["keys"] == 1
    assert staging_left(stack.root) == []
    # the artifact is a real snapshot of this server: it restores into a scratch server and matches
    assert verify_backup(stack, backup.id, deep=True).ok


def test_a_snapshot_taken_by_bgsave_is_of_the_moment_of_the_backup(
    make_stack: MakeStack, redis_server: RedisServer
) -> None:
    url, _ = redis_server(*NO_REPLICATION)
    fill(url)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": url}}})
    assert create_backup(stack, components=["cache"]).ok
    with redis.Redis.from_url(url) as client:
        client.set("added-after-the-first-save", 1)  # an older dump.rdb already lies in the server's dir
    second = create_backup(stack, components=["cache"])
    assert second.ok, second.failed
    assert second.artifacts[0].fingerprint["databases"]["db0"]["keys"] == 502


def test_replication_and_bgsave_both_forbidden_is_one_clear_failure(
    make_stack: MakeStack, redis_server: RedisServer, tmp_path: Path
) -> None:
    url, _ = redis_server(*NO_REPLICATION, "--rename-command", "BGSAVE", "")
    fill(url)
    stack = make_stack(
        {
            "cache": {"datastore": {"kind": "redis", "url": url}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    done = run_cli(tmp_path, "backup", "create", "--json")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    import json

    result = json.loads(done.stdout)
    [failed] = result["failed"]
    assert failed["component"] == "cache"
    assert "refused replication (ERR unknown command 'SYNC'" in failed["error"]
    assert "and BGSAVE (unknown command 'BGSAVE'" in failed["error"]
    assert "allow SYNC and PSYNC (replication) or BGSAVE" in failed["error"]
    [backup] = list_backups(stack, rescan=True).backups
    assert "cache" not in backup.entry.components
    assert not backup.entry.complete
    assert staging_left(tmp_path) == []


def test_bgsave_whose_file_cannot_be_found_says_so(make_stack: MakeStack, redis_server: RedisServer) -> None:
    url, _ = redis_server(*NO_REPLICATION, "--rename-command", "CONFIG", "")
    fill(url)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": url}}})
    result = create_backup(stack, components=["cache"])
    assert not result.committed
    assert result.exit_code == 1
    assert "BGSAVE finished but CONFIG GET is refused" in result.failed[0].error


def test_a_target_that_refuses_restore_is_left_untouched(
    make_stack: MakeStack, redis_server: RedisServer
) -> None:
    source, _ = redis_server()
    fill(source)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": source}}})
    backup = create_backup(stack, components=["cache"])
    assert backup.ok, backup.failed
    target, _ = redis_server("--rename-command", "RESTORE", "")
    with redis.Redis.from_url(target) as client:
        client.mset({"keep:1": "a", "keep:2": "b"})
    with pytest.raises(BackupError, match="Redis restore failed: unknown command 'RESTORE'"):
        run_restore(stack, backup.id, component="cache", to=target, force=True)
    with redis.Redis.from_url(target) as client:
        assert sorted(client.keys()) == [b"keep:1", b"keep:2"]  # FLUSHALL never ran
