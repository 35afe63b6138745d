"""The backup commands through Typer: JSON output, exit codes 0/1/2, keygen."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from seawall.backup import create_backup
from seawall.cli import cmd_backup
from seawall.cli.app import build_app
from seawall.cli.errors import run_guarded
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def app() -> typer.Typer:
    built = build_app()
    built.add_typer(cmd_backup.backup_app, name="backup")
    built.command()(cmd_backup.restore)
    return built


def run(stack: StackConfig, *args: str) -> int:
    return run_guarded(app(), ["-f", str(stack.source), *args])


def test_create_list_verify_show_prune_as_json(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack()
    assert run(stack, "backup", "create", "--json", "--tag", "cli") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["ok"]
    assert run(stack, "backup", "verify", created["id"], "--deep", "--json") == 0
    assert json.loads(capsys.readouterr().out)["ok"]
    assert run(stack, "backup", "list", "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["newest_verified"] == created["id"]
    assert run(stack, "backup", "show", "latest", "--json") == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["tags"] == ["cli"]
    assert run(stack, "backup", "prune", "--dry-run", "--json") == 0
    assert json.loads(capsys.readouterr().out)["removed"] == []


def test_restore_over_data_without_force_is_a_usage_error(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack()
    assert run(stack, "backup", "create", "--json") == 0
    assert run(stack, "restore", "--component", "db") == 2
    assert "--force" in capsys.readouterr().err


def test_a_failed_datastore_exits_1(make_stack: MakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = make_stack({"gone": {"datastore": {"kind": "sqlite", "path": "missing.db"}}})
    assert run(stack, "backup", "create", "--json") == 1
    assert json.loads(capsys.readouterr().out)["failed"][0]["component"] == "gone"


def test_keygen_prints_the_recipient(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_guarded(app(), ["backup", "keygen", "--output", str(tmp_path / "k")]) == 0
    assert "recipient: age1" in capsys.readouterr().out
    assert run_guarded(app(), ["backup", "keygen", "--output", str(tmp_path / "k")]) == 2


def test_list_prints_whole_backup_ids_at_80_columns(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    stack = make_stack()
    backup_id = create_backup(stack, tags=["a-long-tag-for-the-tags-column"]).id
    assert run(stack, "backup", "list") == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert backup_id in out


def test_create_and_show_print_each_artifact_note_after_its_component(
    make_stack: MakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack()
    (tmp_path / ".env").write_text("SECRET=1\n")
    note = "! stack-config: .env left out: it may hold secrets and this backup is not encrypted"
    assert run(stack, "backup", "create") == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [i for i, line in enumerate(lines) if line.split()[:2] in (["✔", "db"], ["✔", "stack-config"])]
    assert lines.index(note) > max(rows)  # whole, on one line of its own, after the table
    assert lines[-1].startswith("✔ backup ")
    assert run(stack, "backup", "show") == 0
    assert note in capsys.readouterr().out.splitlines()
