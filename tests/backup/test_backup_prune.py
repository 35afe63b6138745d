"""prune on a real repository: groups of components, refusing to empty a group, unreadable manifests."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from seawall.backup import create_backup, list_backups, prune
from seawall.backup.errors import PruneRefused
from seawall.cli import cmd_backup
from seawall.cli.app import build_app
from seawall.cli.errors import run_guarded
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def ids(stack: StackConfig) -> list[str]:
    return [b.entry.id for b in list_backups(stack).backups]


def run(stack: StackConfig, *args: str) -> int:
    app = build_app()
    app.add_typer(cmd_backup.backup_app, name="backup")
    return run_guarded(app, ["-f", str(stack.source), "backup", *args])


@pytest.mark.parametrize("retention", [{"keep_last": 0}, {"daily": 0, "weekly": 0}])
def test_a_policy_of_zero_counts_removes_nothing(make_stack: MakeStack, retention: dict[str, int]) -> None:
    stack = make_stack(retention=retention)
    made = [create_backup(stack, components=["db"]).id for _ in range(2)]
    result = prune(stack)
    assert (result.policy, result.removed) == (False, ())
    assert ids(stack) == made


def test_a_policy_keeping_nothing_of_a_group_is_refused_unless_allowed(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack(retention={"keep_tags": ["release"]})
    made = [create_backup(stack, components=["db"]).id for _ in range(2)]
    with pytest.raises(PruneRefused, match="keeps no backup of the group db") as refused:
        prune(stack)
    assert refused.value.exit_code == 2
    assert ids(stack) == made
    dry = prune(stack, dry_run=True)
    assert (dry.refused, dry.emptied, dry.exit_code) == (True, (("db",),), 2)
    assert run(stack, "prune", "--dry-run") == 2
    assert "prune would stop here" in capsys.readouterr().out
    assert run(stack, "prune") == 2
    assert ids(stack) == made
    assert run(stack, "prune", "--allow-remove-all", "--json") == 0
    assert sorted(json.loads(capsys.readouterr().out)["removed"]) == made
    assert ids(stack) == []


def test_subset_and_safety_backups_do_not_take_the_full_backups_slots(make_stack: MakeStack) -> None:
    stack = make_stack(retention={"keep_last": 1})
    old_full = create_backup(stack).id
    full = create_backup(stack).id
    db_only = create_backup(stack, components=["db"]).id
    safety = create_backup(stack, components=["db", "files"], tags=["pre-restore"]).id
    result = prune(stack)
    assert result.removed == (old_full,)
    assert ids(stack) == [full, db_only, safety]
    groups = {d.id: d.group for d in result.decisions}
    assert groups[db_only] == ("db",)
    assert groups[full] == ("db", "files", "stack-config")


def test_dry_run_json_gives_the_group_and_why_a_backup_goes(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack(retention={"keep_last": 1})
    old, new = (create_backup(stack, components=["db"]).id for _ in range(2))
    assert run(stack, "prune", "--dry-run", "--json") == 0
    decisions = {d["id"]: d for d in json.loads(capsys.readouterr().out)["decisions"]}
    assert decisions[old] == {"id": old, "keep": False, "reasons": ["no rule keeps it"], "group": ["db"]}
    assert decisions[new]["reasons"] == ["last 1"]
    assert run(stack, "prune", "--dry-run") == 0
    out = capsys.readouterr().out
    assert old in out  # never cut, whatever the width
    assert "no rule keeps it" in out


def test_an_unreadable_manifest_is_kept_and_reported_and_the_rest_pruned(
    make_stack: MakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack(retention={"keep_last": 1})
    broken, old, new = (create_backup(stack, components=["db"]).id for _ in range(3))
    (stack.resolve("repo") / stack.stack / broken / "manifest.json").write_text('{"format": 1, "id": ')
    result = prune(stack)
    assert result.removed == (old,)
    assert [i for i, _ in result.unreadable] == [broken]
    assert "is corrupt" in result.unreadable[0][1]
    assert result.exit_code == 1
    assert (stack.resolve("repo") / stack.stack / broken / "manifest.json").exists()
    assert run(stack, "prune") == 1
    assert f"{broken} kept: its manifest cannot be read" in capsys.readouterr().out
    assert new in {d.id for d in result.decisions}
