"""`seawall destroy`: the plan, the confirmation, the backup taken first, the data gone (and back)."""

from __future__ import annotations

import json
import os
import pty
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
import redis
import yaml

from _helpers import PG_SERVER, mariadb_admin, run_cli
from _helpers import private_redis as _private_redis
from seawall.backup import list_backups, restore, verify_backup
from seawall.config import StackConfig, load_stack
from seawall.errors import ConfirmationRefused, OperationError
from seawall.ops.destroy import destroy, plan_destroy
from seawall.runtime import get_runtime, shutdown
from seawall.store import open_store


def write_stack(root: Path, components: dict[str, Any], **extra: Any) -> StackConfig:
    doc = {"stack": "doomed", "components": components, "backup": {"repository": "repo"}, **extra}
    (root / "seawall.yaml").write_text(yaml.safe_dump(doc))
    return load_stack(root / "seawall.yaml")


def fill_sqlite(path: Path, rows: int = 50) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    db.executemany("INSERT INTO orders(item) VALUES (?)", [(f"item{i}",) for i in range(rows)])
    db.commit()
    db.close()


def fill_files(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.txt").write_text("beta\n")


def local_stack(root: Path, **extra: Any) -> StackConfig:
    """A sqlite and a files datastore with data in them."""
    fill_sqlite(root / "app.db")
    fill_files(root / "uploads")
    return write_stack(
        root,
        {
            "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            "uploads": {"datastore": {"kind": "files", "path": "uploads"}},
        },
        **extra,
    )


def test_the_plan_lists_components_data_and_what_is_kept(tmp_path: Path) -> None:
    fill_sqlite(tmp_path / "app.db")
    (tmp_path / "app.db-wal").write_bytes(b"")  # present or not, the -wal file goes with the database
    fill_files(tmp_path / "uploads")
    stack = write_stack(
        tmp_path,
        {
            "api": {"command": ["true"]},
            "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            "uploads": {"datastore": {"kind": "files", "path": "uploads", "exclude": ["*.tmp"]}},
            "pg": {"datastore": {"kind": "postgres", "url": "postgresql://u:secret@127.0.0.1:1/shop"}},
            "sql": {"datastore": {"kind": "mysql", "url": "mysql://root@127.0.0.1:1/orders"}},
            "cache": {"datastore": {"kind": "redis", "url": "redis://127.0.0.1:1/3"}},
            "blobs": {"datastore": {"kind": "s3", "url": "s3://bucket/prefix"}},
        },
    )
    plan = plan_destroy(stack)
    assert plan.stopped == ("api",)
    assert "db" in plan.unmanaged  # a local component without a command is not run by the stack
    items = {d.component: d for d in plan.data}
    assert items["db"].paths == (str(tmp_path / "app.db"), str(tmp_path / "app.db-wal"))
    assert items["uploads"].action == "empty the directory"
    assert "excluded paths" in items["uploads"].note
    assert items["pg"].action == "DROP DATABASE shop"
    assert "secret" not in json.dumps(plan.to_dict())
    assert items["sql"].action == "DROP DATABASE orders"
    assert items["cache"].action == "FLUSHDB (every key of db 3)"
    assert not items["blobs"].removed
    assert {d.component for d in plan.removals} == {"db", "uploads", "pg", "sql", "cache"}
    kept = dict(plan.kept)
    assert "state directory" in kept[str(tmp_path / ".seawall")]
    assert kept[str(tmp_path / "repo")] == "backup repository"
    assert kept[str(tmp_path / "seawall.yaml")] == "stack file"


def test_a_directory_holding_the_stack_is_never_emptied(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"all": {"datastore": {"kind": "files", "path": "."}}})
    [item] = plan_destroy(stack).data
    assert not item.removed
    assert "holds the stack directory" in item.note


def test_destroy_needs_confirmation_and_touches_nothing_without_it(tmp_path: Path) -> None:
    stack = local_stack(tmp_path)
    with pytest.raises(ConfirmationRefused):
        destroy(stack, get_runtime(stack), confirmed=False)
    assert (tmp_path / "app.db").exists()
    assert (tmp_path / "uploads" / "a.txt").exists()
    assert not (tmp_path / "repo").exists()


def test_the_state_and_a_repository_inside_a_data_directory_survive(tmp_path: Path) -> None:
    fill_files(tmp_path / "data")
    stack = write_stack(
        tmp_path,
        {"files": {"datastore": {"kind": "files", "path": "data"}}},
        backup={"repository": "data/backups"},
        state={"path": "data/inner/.state"},
    )
    runtime = get_runtime(stack)
    try:
        result = destroy(stack, runtime, confirmed=True)
    finally:
        runtime.close()
    assert result.ok, result.to_dict()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["backups", "inner"]
    assert [p.name for p in (tmp_path / "data" / "inner").iterdir()] == [".state"]
    assert [b.entry.id for b in list_backups(stack).backups] == [result.backup_id]


# --- real processes and servers ------------------------------------------------------------------


@pytest.mark.integration
def test_without_a_terminal_and_without_yes_the_cli_refuses(tmp_path: Path) -> None:
    local_stack(tmp_path)
    proc = run_cli(tmp_path, "destroy")
    assert proc.returncode == 2, proc.stderr
    assert "nothing was touched" in proc.stderr
    assert "remove db (sqlite)" in proc.stderr  # the plan is shown before the refusal
    assert (tmp_path / "app.db").exists()
    assert (tmp_path / "uploads" / "a.txt").exists()
    assert not (tmp_path / "repo").exists()


@pytest.mark.integration
def test_a_wrong_stack_name_at_the_prompt_refuses(tmp_path: Path) -> None:
    local_stack(tmp_path)
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "seawall.cli", "destroy"],
            cwd=tmp_path,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            os.write(controller, b"shop\n")
            _, err = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2, err
    assert "'shop' is not 'doomed'" in err
    assert (tmp_path / "app.db").exists()
    assert not (tmp_path / "repo").exists()


@pytest.mark.integration
def test_the_cli_with_yes_backs_up_then_removes_and_reports_json(tmp_path: Path) -> None:
    local_stack(tmp_path)
    proc = run_cli(tmp_path, "destroy", "--yes", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"]
    assert {r["component"] for r in doc["removals"]} == {"db", "uploads"}
    assert not (tmp_path / "app.db").exists()
    assert list((tmp_path / "uploads").iterdir()) == []
    assert (tmp_path / "repo" / "doomed" / doc["backup_id"] / "manifest.json").is_file()


@pytest.mark.integration
def test_a_failing_backup_aborts_and_keeps_every_datastore(tmp_path: Path) -> None:
    missing = f"{PG_SERVER}/seawall_test_missing_{secrets.token_hex(6)}"
    fill_sqlite(tmp_path / "app.db")
    stack = write_stack(
        tmp_path,
        {
            "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            "pg": {"datastore": {"kind": "postgres", "url": missing}},
        },
    )
    runtime = get_runtime(stack)
    try:
        with pytest.raises(OperationError, match=r"backup before destroy failed: pg \(") as caught:
            destroy(stack, runtime, confirmed=True)
    finally:
        runtime.close()
    assert "nothing was stopped or removed" in str(caught.value)
    assert "db (" not in str(caught.value)
    with sqlite3.connect(tmp_path / "app.db") as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (50,)
    with open_store(stack.state_dir) as store:
        [event] = store.events(kinds=["destroy_aborted"])
        assert not store.events(kinds=["data_removed"])
    assert event.detail["failed"] == ["pg"]


@pytest.fixture
def pg_shop(postgres_db: str) -> str:
    """The scratch database with a table of 100 rows (destroy drops it, restore brings it back)."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute(b"INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 100) g")
    return postgres_db


def pg_database_exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG_SERVER}/postgres") as admin:
        return admin.execute(b"SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@pytest.fixture
def running_stack(tmp_path: Path, pg_shop: str) -> Iterator[StackConfig]:
    """sqlite + files + postgres datastores and a running process; the supervisor is shut down after."""
    fill_sqlite(tmp_path / "app.db")
    fill_files(tmp_path / "uploads")
    stack = write_stack(
        tmp_path,
        {
            "app": {"command": [sys.executable, "-c", "import time; time.sleep(600)"]},
            "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            "uploads": {"datastore": {"kind": "files", "path": "uploads"}},
            "pg": {"datastore": {"kind": "postgres", "url": pg_shop}},
        },
    )
    try:
        yield stack
    finally:
        shutdown(stack)


@pytest.mark.integration
def test_destroy_stops_removes_everything_and_restore_brings_it_back(running_stack: StackConfig) -> None:
    stack, root = running_stack, running_stack.root
    pg_url = stack.components["pg"].datastore.url  # type: ignore[union-attr]
    assert pg_url is not None
    runtime = get_runtime(stack)
    try:
        runtime.start(["app"])
        deadline = time.monotonic() + 20
        while (pid := runtime.status(["app"])[0].pid) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid is not None
        steps: list[str] = []
        result = destroy(stack, runtime, confirmed=True, progress=lambda c, m: steps.append(f"{c}: {m}"))
    finally:
        runtime.close()

    assert result.ok, result.to_dict()
    assert result.backup_id is not None
    assert steps[0] == "backup: taking a full backup"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (root / "app.db").exists()
    assert not (root / "app.db-wal").exists()
    assert list((root / "uploads").iterdir()) == []
    assert not pg_database_exists(pg_url)
    assert (root / "seawall.yaml").exists()
    with open_store(stack.state_dir) as store:
        [event] = store.events(kinds=["destroy"])
        assert len(store.events(kinds=["data_removed"])) == 3
    assert event.detail["backup"] == result.backup_id
    removed = event.detail["removed"]
    assert isinstance(removed, list)
    assert set(removed) == {"db", "pg", "uploads"}

    assert verify_backup(stack, result.backup_id, deep=True).ok
    restored = restore(stack, "latest")
    assert restored.id == result.backup_id
    assert {c.component for c in restored.components} == {"db", "uploads", "pg"}
    with sqlite3.connect(root / "app.db") as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (50,)
    assert (root / "uploads" / "sub" / "b.txt").read_text() == "beta\n"
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(b"SELECT count(*) FROM items").fetchone() == (100,)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server of our own on a free port (never the shared one); killed afterwards."""
    with _private_redis(tmp_path) as port:
        yield port


@pytest.mark.integration
def test_redis_loses_only_the_keys_of_its_db_and_mysql_its_database(
    tmp_path: Path, private_redis: int, mariadb_db: str
) -> None:
    ours, other = (redis.Redis(port=private_redis, db=n) for n in (3, 4))
    ours.set("k1", "v")
    ours.set("k2", "v")
    other.set("stays", "v")
    with mariadb_admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{mariadb_db}`.t (id int primary key)")
    stack = write_stack(
        tmp_path,
        {
            "cache": {"datastore": {"kind": "redis", "url": f"redis://127.0.0.1:{private_redis}/3"}},
            "sql": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1:3306/{mariadb_db}"}},
        },
    )
    runtime = get_runtime(stack)
    try:
        result = destroy(stack, runtime, confirmed=True, skip_backup=True)
    finally:
        runtime.close()
    assert result.ok, result.to_dict()
    assert result.backup_id is None
    details = {r.component: r.detail for r in result.removals}
    assert details == {"cache": "flushed db 3 (2 keys)", "sql": f"dropped database {mariadb_db}"}
    assert ours.dbsize() == 0
    assert other.get("stays") == b"v"
    ours.close()
    other.close()
    with mariadb_admin() as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (mariadb_db,)
        )
        assert cursor.fetchone() == (0,)
