"""A repository on a full or read-only disk: one clear error, nothing half-written, catalog unchanged."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from _helpers import run_cli
from seawall.backup import create_backup, list_backups, verify_backup
from seawall.backup.catalog import Catalog
from seawall.backup.errors import RepositoryUnwritable
from seawall.config import StackConfig
from seawall.store import open_store

MakeStack = Callable[..., StackConfig]
RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]

pytestmark = pytest.mark.integration


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def _catalog_ids(stack: StackConfig) -> set[str]:
    with open_store(stack.state_dir) as store:
        return Catalog(store, stack.stack).ids()


def _committed_ids(repo: Path) -> list[str]:
    return sorted(p.name for p in repo.iterdir() if (p / "manifest.json").is_file())


def _leftovers(repo: Path) -> list[str]:
    """Everything in the stack's directory that is neither the lock nor a committed backup."""
    return sorted(p.name for p in repo.iterdir() if p.name != "lock" and not (p / "manifest.json").is_file())


def test_a_full_repository_disk_abandons_the_whole_backup_and_the_next_one_succeeds(
    make_stack: MakeStack, small_disk: Path, tmp_path: Path
) -> None:
    stack = make_stack(compression="none")
    first = create_backup(stack)
    assert first.ok, first.failed
    repo = small_disk / "shop"
    before = _catalog_ids(stack)
    # incompressible data larger than what is left on the 2 MiB disk
    (tmp_path / "data" / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))

    done = run_cli(tmp_path, "backup", "create")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot write files.tar to the backup repository" in done.stderr
    assert "No space left on device" in done.stderr
    # the small datastores that did fit are not committed either: a backup the disk refused is not kept
    assert _committed_ids(repo) == [first.id]
    assert _leftovers(repo) == []
    assert not any(p.name.endswith(".tmp") for p in repo.rglob("*"))
    assert _catalog_ids(stack) == before
    assert [b.entry.id for b in list_backups(stack, rescan=True).backups] == [first.id]
    assert verify_backup(stack, first.id).ok

    (tmp_path / "data" / "big.bin").write_bytes(os.urandom(256 * 1024))  # space freed
    after = create_backup(stack)
    assert after.ok, after.failed
    assert _catalog_ids(stack) == before | {after.id}
    assert verify_backup(stack, after.id, deep=True).ok


def test_a_read_only_repository_is_one_clear_error_and_nothing_changes(
    make_stack: MakeStack, small_disk: Path, tmp_path: Path
) -> None:
    stack = make_stack()
    first = create_backup(stack)
    assert first.ok, first.failed
    repo = small_disk / "shop"
    before = _catalog_ids(stack)
    listing = sorted(p.name for p in repo.rglob("*"))
    remount = _mount("-o", "remount,ro", str(small_disk))
    assert remount.returncode == 0, remount.stderr

    done = run_cli(tmp_path, "backup", "create")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot write the lock of the backup repository" in done.stderr
    assert "Read-only file system" in done.stderr
    assert sorted(p.name for p in repo.rglob("*")) == listing
    assert _catalog_ids(stack) == before
    # reading still works: the earlier backup lists and verifies from the read-only disk
    assert [b.entry.id for b in list_backups(stack, rescan=True).backups] == [first.id]
    assert verify_backup(stack, first.id, deep=True).ok

    assert _mount("-o", "remount,rw", str(small_disk)).returncode == 0
    after = create_backup(stack)
    assert after.ok, after.failed
    assert _committed_ids(repo) == sorted([first.id, after.id])


def test_a_redis_snapshot_that_fills_the_staging_disk_abandons_the_backup(
    make_stack: MakeStack, small_disk: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    url, _ = redis_server()
    with redis.Redis.from_url(url) as client:
        client.mset({f"k:{i}": os.urandom(1000) for i in range(3000)})  # an RDB of 3 MB: more than the disk
    stack = make_stack(
        {
            "cache": {"datastore": {"kind": "redis", "url": url}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    with pytest.raises(RepositoryUnwritable, match=r"cannot write cache\.rdb\.zst .*No space left on device"):
        create_backup(stack)
    assert sorted(p.name for p in (small_disk / "shop").iterdir()) == ["lock"]
    assert _catalog_ids(stack) == set()


def test_a_sqlite_copy_that_fills_the_staging_disk_abandons_the_backup(
    make_stack: MakeStack, small_disk: Path, tmp_path: Path
) -> None:
    """SQLite says 'database or disk is full' in its own words: still the repository's disk."""
    big = tmp_path / "big.db"
    with sqlite3.connect(big) as db:
        db.execute("CREATE TABLE blobs (b BLOB)")
        db.executemany("INSERT INTO blobs VALUES (?)", [(os.urandom(4000),) for _ in range(1000)])
    stack = make_stack(
        {
            "big": {"datastore": {"kind": "sqlite", "path": "big.db"}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    with pytest.raises(RepositoryUnwritable, match=r"cannot write big\.sqlite\.zst .*No space left"):
        create_backup(stack)
    assert sorted(p.name for p in (small_disk / "shop").iterdir()) == ["lock"]
    assert _catalog_ids(stack) == set()
