"""Datastore loss faults on a sqlite + files stack: emptied or moved aside, and always brought back."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaos_helpers import write_experiment

from _helpers import wait_for
from seawall.chaos.experiment import (
    RunStatus,
    build_journal,
    parse_experiment,
    plan_experiment,
    run_experiment,
)
from seawall.chaos.faults import FaultContext, MakeAvailable, RestoreBackup, inverse_from_dict
from seawall.chaos.faults.datastore import aside, resolve_how
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import restore_pending
from seawall.config import StackConfig, load_stack
from seawall.errors import ConfigError, UsageError
from seawall.runtime import get_runtime

RUNNER = """
import sys
from pathlib import Path
from seawall.chaos.experiment import load_experiment, run_experiment
from seawall.config import load_stack
record = run_experiment(load_experiment(Path(sys.argv[2])), load_stack(Path(sys.argv[1])))
sys.exit(record.exit_code)
"""


def _stack(root: Path, rows: int = 40) -> StackConfig:
    db = sqlite3.connect(root / "app.db")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    db.executemany("INSERT INTO orders(item) VALUES (?)", [(f"item{i}",) for i in range(rows)])
    db.commit()
    db.close()
    (root / "uploads" / "sub").mkdir(parents=True)
    (root / "uploads" / "a.txt").write_text("alpha\n")
    (root / "uploads" / "sub" / "b.txt").write_text("beta\n")
    doc = {
        "stack": "lossy",
        "state": {"path": "state"},
        "backup": {"repository": "repo", "compression": "none"},
        "components": {
            "db": {"datastore": {"kind": "sqlite", "path": "app.db"}},
            "uploads": {"datastore": {"kind": "files", "path": "uploads"}},
            "api": {"command": ["true"]},
        },
    }
    (root / "seawall.yaml").write_text(yaml.safe_dump(doc))
    return load_stack(root / "seawall.yaml")


def _rows(root: Path) -> int:
    db = sqlite3.connect(root / "app.db")
    try:
        return int(db.execute("SELECT count(*) FROM orders").fetchone()[0])
    finally:
        db.close()


def _files(root: Path) -> dict[str, str]:
    base = root / "uploads"
    return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


def _exp(method: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "title": "datastore loss",
        "targets": ["db", "uploads"],
        "method": method,
        "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "2s"},
        **extra,
    }


def _check(command: str) -> dict[str, Any]:
    """A method action that fails the run (injection_failed) unless the shell command succeeds."""
    return {"type": "action", "provider": {"type": "process", "path": "sh", "arguments": ["-c", command]}}


def test_datastore_fault_specs_are_validated_and_planned_against_the_stack(tmp_path: Path) -> None:
    """A datastore fault needs a component, an allowed one, and one that declares a datastore."""
    stack = _stack(tmp_path)
    with pytest.raises(ConfigError, match="needs a component"):
        parse_experiment(_exp([{"fault": {"kind": "datastore_empty"}}]))
    with pytest.raises(UsageError, match="declares no datastore"):
        plan_experiment(
            parse_experiment(
                _exp([{"fault": {"kind": "datastore_empty", "component": "api"}}], targets=["api"])
            ),
            stack,
        )
    unallowed = parse_experiment(
        _exp([{"fault": {"kind": "datastore_unavailable", "component": "db"}}], targets=["uploads"])
    )
    with pytest.raises(UsageError, match="not in the experiment's targets"):
        plan_experiment(unallowed, stack)
    plan = plan_experiment(
        parse_experiment(_exp([{"fault": {"kind": "datastore_empty", "component": "*"}}], seed=3)), stack
    )
    [planned] = plan.faults
    assert planned.target in ("db", "uploads")  # '*' draws among allowed components with a datastore
    inverse = planned.to_dict()["inverse"]
    assert inverse == {
        "kind": "restore_backup",
        "component": planned.target,
        "tag": f"chaos-{planned.fault.id}",
    }
    assert isinstance(inverse_from_dict(inverse), RestoreBackup)
    assert isinstance(
        inverse_from_dict({"kind": "make_available", "component": "db", "token": "x", "how": "auto"}),
        MakeAvailable,
    )


@pytest.mark.integration
def test_chaos_datastore_empty_backs_up_empties_and_restores_through_the_runner(tmp_path: Path) -> None:
    """datastore_empty: a tagged backup first, the data gone while it acts, rows and files back after."""
    stack = _stack(tmp_path)
    before_files = _files(tmp_path)
    experiment = parse_experiment(
        _exp(
            [
                {"fault": {"kind": "datastore_empty", "component": "db"}},
                {"fault": {"kind": "datastore_empty", "component": "uploads"}},
                _check(f'test ! -e {tmp_path / "app.db"} && test -z "$(ls -A {tmp_path / "uploads"})"'),
            ]
        )
    )
    record = run_experiment(experiment, stack, runtime_factory=get_runtime, handle_signals=False)
    assert record.status is RunStatus.PASSED, (record.notes, record.restore)
    assert _rows(tmp_path) == 40
    assert _files(tmp_path) == before_files
    journal = build_journal(record)
    faults = journal["seawall"]["faults"]
    assert [f["kind"] for f in faults] == ["datastore_empty", "datastore_empty"]
    assert all(f["detail"].startswith("backup ") for f in faults)
    assert "restored db from backup" in faults[0]["removal"]
    from seawall.backup import list_backups

    tags = [set(b.entry.tags) for b in list_backups(stack).backups]
    assert {f"chaos-{faults[0]['id']}", "pre-chaos"} in [
        t & {f"chaos-{faults[0]['id']}", "pre-chaos"} for t in tags
    ]
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []


@pytest.mark.integration
def test_chaos_datastore_unavailable_moves_data_aside_and_back(tmp_path: Path) -> None:
    """datastore_unavailable on sqlite and files: renamed aside while it acts, in place after the run."""
    stack = _stack(tmp_path)
    before_files = _files(tmp_path)
    experiment = parse_experiment(
        _exp(
            [
                {"fault": {"kind": "datastore_unavailable", "component": "db"}},
                {"fault": {"kind": "datastore_unavailable", "component": "uploads", "duration": "100ms"}},
                _check(f"test ! -e {tmp_path / 'app.db'} && test -d {tmp_path / 'uploads'}"),
            ]
        )
    )
    record = run_experiment(experiment, stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, (record.notes, record.restore)
    assert _rows(tmp_path) == 40
    assert _files(tmp_path) == before_files
    assert not list(tmp_path.glob("*.seawall-chaos-*"))


def test_make_available_keeps_what_was_created_meanwhile(tmp_path: Path) -> None:
    """An application that made a new empty database while the real one was aside loses nothing."""
    stack = _stack(tmp_path)
    db = tmp_path / "app.db"
    db.rename(aside(db, "t1"))
    sqlite3.connect(db).close()  # the application creates a fresh, empty file
    ctx = FaultContext(stack, get_runtime)
    assert "put back app.db" in MakeAvailable("db", "t1")(ctx)
    assert _rows(tmp_path) == 40
    assert Path(f"{aside(db, 't1')}.during").exists()
    assert MakeAvailable("db", "t1")(ctx) == "the data of db is in place"  # idempotent


def test_restore_backup_without_its_backup_is_a_noop(tmp_path: Path) -> None:
    """A crash before the backup committed: nothing was emptied, so the inverse does nothing."""
    stack = _stack(tmp_path)
    detail = RestoreBackup("db", "chaos-neverwritten")(FaultContext(stack, get_runtime))
    assert "was never emptied" in detail
    assert _rows(tmp_path) == 40


@pytest.mark.integration
def test_chaos_restore_brings_emptied_data_back_after_a_sigkilled_runner(tmp_path: Path) -> None:
    """SIGKILL the runner while the datastores are empty: `chaos restore` restores them, twice is harmless."""
    stack = _stack(tmp_path)
    before_files = _files(tmp_path)
    experiment = write_experiment(
        tmp_path / "exp.yaml",
        _exp(
            [
                {"fault": {"kind": "datastore_empty", "component": "db"}},
                {"fault": {"kind": "datastore_unavailable", "component": "uploads"}},
                {"pause": "60s"},
            ]
        ),
    )
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    assert stack.source is not None
    runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(experiment)])

    def both_applied() -> bool:
        with Ledger(stack.state_dir) as ledger:
            return len([e for e in ledger.entries() if e.state == "active"]) == 2

    try:
        wait_for(both_applied, timeout=30, what="both datastore faults applied")
        assert not (tmp_path / "app.db").exists()
        assert not (tmp_path / "uploads").exists()
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    first = restore_pending(stack)
    assert first.ok, first.to_dict()
    assert len(first.outcomes) == 2
    assert _rows(tmp_path) == 40
    assert _files(tmp_path) == before_files
    second = restore_pending(stack)
    assert second.outcomes == []


def test_unavailable_mode_follows_how_the_datastore_is_served(tmp_path: Path) -> None:
    """Files move aside; a server the stack runs stops; one it does not run refuses its clients."""
    pg = {"kind": "postgres", "url": "postgresql://u@127.0.0.1:1/app"}
    doc = {
        "stack": "modes",
        "components": {
            "files": {"datastore": {"kind": "files", "path": "data"}},
            "run": {"command": ["postgres"], "datastore": pg},
            "pg": {"datastore": pg},
            "acl": {"datastore": {"kind": "redis", "url": "redis://app:pw@127.0.0.1:1/0"}},
            "my": {"datastore": {"kind": "mysql", "url": "mysql://root@127.0.0.1:1/app"}},
        },
    }
    (tmp_path / "seawall.yaml").write_text(yaml.safe_dump(doc))
    stack = load_stack(tmp_path / "seawall.yaml")
    assert [resolve_how(stack, c, "auto") for c in ("files", "run", "pg")] == ["move_aside", "stop", "revoke"]
    for component, how, reason in [
        ("acl", "auto", "ACL user 'app'"),
        ("my", "auto", "no per-database switch"),
        ("pg", "stop", "does not run 'pg'"),
        ("pg", "move_aside", "no files to move aside"),
    ]:
        with pytest.raises(ValueError, match=reason):
            resolve_how(stack, component, how)  # type: ignore[arg-type]
