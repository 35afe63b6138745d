"""What a restore checks before it writes, whom it stops, and what it says when it fails."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from _helpers import delete_orders, order_count
from seawall.backup import create_backup, restore, show_backup, verify_backup
from seawall.backup._plan import target_for
from seawall.backup.manifest import Artifact
from seawall.backup.restore import RestoreInterrupted
from seawall.config import StackConfig
from seawall.errors import UsageError
from seawall.runtime import Runtime, get_runtime, shutdown

MakeStack = Callable[..., StackConfig]


def test_a_sqlite_path_with_uri_characters_is_the_file_backed_up(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """'#' and '?' end a file name in a SQLite URI: unescaped, an empty file beside it was backed up."""
    stack = make_stack({"db": {"datastore": {"kind": "sqlite", "path": "sq#1?x=%41/app.db"}}})
    odd = tmp_path / "sq#1?x=%41"
    odd.mkdir()
    (tmp_path / "app.db").rename(odd / "app.db")
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    assert backup.artifacts[0].fingerprint["tables"]["orders"]["rows"] == 500
    assert not (tmp_path / "sq").exists()
    elsewhere = tmp_path / "other#2" / "copy.db"
    elsewhere.parent.mkdir()
    assert restore(stack, backup.id, component="db", to=str(elsewhere)).components[0].fingerprint_ok
    assert order_count(elsewhere) == 500


def artifact(kind: str, component: str = "db") -> Artifact:
    return Artifact(component, kind, f"{component}.x.zst", kind, 1, 1, "0" * 64, 0.0)


@pytest.mark.parametrize(
    ("kind", "to", "why"),
    [
        ("postgres", "not a url", "not a postgres target"),
        ("postgres", "postgresql://127.0.0.1:5432", "names no database"),
        ("mysql", "postgresql://127.0.0.1/x", "not a mysql target"),
        ("mysql", "mysql://root@127.0.0.1:3306", "names no database"),
        ("redis", "127.0.0.1:6379", "scheme and a host"),
        ("files", "seawall.yaml", "is a file"),
        ("files", ".", "would overwrite the stack directory"),
        ("files", "..", "would overwrite the stack directory"),
        ("files", "repo/x", "would overwrite the backup repository"),
        ("sqlite", "data", "is a directory"),
        ("sqlite", ".seawall/x.db", "would overwrite Seawall's state directory"),
    ],
)
def test_a_to_that_cannot_be_that_kind_of_target_is_refused(
    make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch, kind: str, to: str, why: str
) -> None:
    stack = make_stack()
    monkeypatch.chdir(stack.root)
    with pytest.raises(UsageError, match=why):
        target_for(stack, artifact(kind), to)


@pytest.mark.parametrize(
    ("kind", "to"),
    [
        ("postgres", "postgresql://u@127.0.0.1:5432/shop"),
        ("postgres", "dbname=shop host=127.0.0.1"),
        ("mysql", "mariadb://root@127.0.0.1/shop"),
        ("redis", "rediss://:pw@cache.internal:6380"),
        ("files", "restored/data"),
        ("sqlite", "restored.db"),
    ],
)
def test_a_to_of_the_right_kind_is_taken(make_stack: MakeStack, kind: str, to: str) -> None:
    stack = make_stack()
    target = target_for(stack, artifact(kind), to)
    assert target.kind == kind


def test_latest_passes_over_safety_backups_and_a_to_targets_copy_is_filed_apart(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    stack = make_stack()
    full = create_backup(stack)
    delete_orders(tmp_path / "app.db", 10)
    first = restore(stack, "latest", force=True)
    assert first.id == full.id
    assert first.safety_backup is not None
    delete_orders(tmp_path / "app.db", 20)
    again = restore(stack, "latest", component="db", force=True)
    assert again.id == full.id  # not the safety backup the first restore took
    assert order_count(tmp_path / "app.db") == 500

    other = tmp_path / "other.db"
    restore(stack, full.id, component="db", to=str(other))
    delete_orders(other, 5)
    over = restore(stack, full.id, component="db", to=str(other), force=True)
    assert over.safety_backup is not None
    safety = show_backup(stack, over.safety_backup).manifest
    [copy] = safety.artifacts
    assert copy.component == "db@to"  # not the stack's own db: never restored over it by mistake
    assert str(other) in copy.notes[0]
    with pytest.raises(UsageError, match="name a target with --to"):
        restore(stack, over.safety_backup, force=True)
    back = tmp_path / "back.db"
    restore(stack, over.safety_backup, component="db@to", to=str(back))
    assert order_count(back) == 5


@pytest.fixture
def owner_stack(make_stack: MakeStack) -> Iterator[tuple[StackConfig, Runtime]]:
    """A running component that owns the SQLite datastore, and one that depends on it."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    stack = make_stack(
        {
            "db": {"command": sleeper, "datastore": {"kind": "sqlite", "path": "app.db"}},
            "web": {"command": sleeper, "depends_on": ["db"]},
            "other": {"command": sleeper},
        }
    )
    runtime = get_runtime(stack)
    try:
        runtime.start(["db", "web", "other"])
        yield stack, runtime
    finally:
        runtime.close()
        shutdown(stack)


def pids(runtime: Runtime) -> dict[str, int | None]:
    deadline = time.monotonic() + 20
    while True:
        status = {s.name: (s.pid if s.alive else None) for s in runtime.status(())}
        if all(status.values()) or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


@pytest.mark.integration
def test_the_owner_and_the_dependents_are_stopped_for_a_restore_and_left_stopped_after_a_failure(
    owner_stack: tuple[StackConfig, Runtime],
) -> None:
    stack, runtime = owner_stack
    backup = create_backup(stack, components=["db"])
    before = pids(runtime)
    assert all(before.values())
    delete_orders(stack.root / "app.db", 10)
    result = restore(stack, backup.id, force=True, runtime=runtime)
    assert set(result.stopped) == {"db", "web"}
    after = pids(runtime)
    assert after["db"] != before["db"]
    assert after["web"] != before["web"]
    assert after["other"] == before["other"]
    assert order_count(stack.root / "app.db") == 500

    def interrupt(component: str, done: int, total: int | None) -> None:
        raise KeyboardInterrupt  # Ctrl-C as the restore starts writing

    delete_orders(stack.root / "app.db", 10)
    with pytest.raises(RestoreInterrupted) as caught:
        restore(stack, backup.id, force=True, runtime=runtime, progress=interrupt)
    message = str(caught.value)
    assert "stopped at db: interrupted" in message
    assert "left stopped: " in message
    safety = message.split("safety backup ")[1].split(maxsplit=1)[0]
    assert f"seawall restore {safety} --force" in message
    assert rows_of(show_backup(stack, safety).manifest.artifacts[0].fingerprint) == 10
    status = {s.name: s.alive for s in runtime.status(())}
    assert status == {"db": False, "web": False, "other": True}


def rows_of(fingerprint: dict[str, object]) -> int:
    tables = fingerprint["tables"]
    assert isinstance(tables, dict)
    return int(tables["orders"]["rows"])


@pytest.mark.integration
def test_deep_verify_without_a_server_for_the_scratch_says_so_and_does_not_fail(
    make_stack: MakeStack, postgres_db: str
) -> None:
    """A component gone from the stack file leaves no server to make a scratch database on."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g")
    stack = make_stack({"pg": {"datastore": {"kind": "postgres", "url": postgres_db}}})
    backup = create_backup(stack, components=["pg"])
    assert backup.ok, backup.failed
    stack = make_stack()  # the stack file no longer has "pg"
    result = verify_backup(stack, backup.id, deep=True)
    assert result.ok
    [check] = result.checks
    assert "not restored" in check.detail
    assert "no postgres datastore of 'pg'" in check.detail
