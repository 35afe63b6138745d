"""The listing trusts no cached manifest that changed on disk; the RPO per datastore."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seawall.backup import create_backup, list_backups, verify_backup
from seawall.backup.manifest import CHECKSUM, manifest_checksum
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def manifest_path(stack: StackConfig, backup_id: str) -> Path:
    return stack.resolve("repo") / stack.stack / backup_id / "manifest.json"


def rewrite(stack: StackConfig, backup_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a committed manifest as a tool that knows the format would: with its checksum taken again."""
    path = manifest_path(stack, backup_id)
    doc = json.loads(path.read_text())
    change(doc)
    doc[CHECKSUM] = manifest_checksum(doc)
    path.write_text(json.dumps(doc))


def test_a_manifest_corrupted_after_it_was_catalogued_is_listed_under_errors(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    assert verify_backup(stack, backup.id).ok
    assert list_backups(stack).newest_verified == backup.id  # catalogued, with its stamp
    manifest_path(stack, backup.id).write_text('{"format": 1, "id": ')
    listing = list_backups(stack)
    assert listing.backups == ()
    assert len(listing.errors) == 1
    assert "is corrupt" in listing.errors[0]
    assert (listing.newest_verified, listing.rpo_seconds) == (None, None)


def test_a_manifest_rewritten_after_it_was_catalogued_is_read_again(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack, components=["db"])
    assert list_backups(stack).backups[0].entry.tags == ()
    rewrite(stack, backup.id, lambda doc: doc.update(tags=["release"]))
    assert list_backups(stack).backups[0].entry.tags == ("release",)


def backdate(stack: StackConfig, backup_id: str, seconds: float) -> None:
    """Move a backup's times into the past, as if it had been taken ``seconds`` ago."""
    rewrite(
        stack,
        backup_id,
        lambda doc: doc.update(started=doc["started"] - seconds, finished=doc["finished"] - seconds),
    )


def test_the_rpo_counts_from_the_start_of_the_backup_not_its_finish(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    # a backup that took an hour: its data is as of its start
    rewrite(stack, backup.id, lambda doc: doc.update(started=doc["started"] - 3600))
    assert verify_backup(stack, backup.id).ok
    rpo = list_backups(stack).rpo_seconds
    assert rpo is not None
    assert 3600 <= rpo < 3660


def test_a_backup_of_one_datastore_renews_only_that_datastores_rpo(make_stack: MakeStack) -> None:
    stack = make_stack()
    full = create_backup(stack)
    backdate(stack, full.id, 7200)
    db_only = create_backup(stack, components=["db"])
    for backup in (full, db_only):
        assert verify_backup(stack, backup.id).ok
    listing = list_backups(stack)
    by_component = {f.component: f for f in listing.rpo}
    assert by_component["db"].backup == db_only.id
    assert by_component["files"].backup == full.id
    assert listing.rpo_worst == by_component["files"]
    assert listing.rpo_seconds is not None
    assert 7200 <= listing.rpo_seconds < 7260
    assert [f["component"] for f in listing.to_dict()["rpo"]] == ["db", "files"]  # the stack file's order


def test_a_datastore_without_any_verified_backup_leaves_the_stack_rpo_unknown(make_stack: MakeStack) -> None:
    stack = make_stack()
    assert verify_backup(stack, create_backup(stack, components=["db"]).id).ok
    listing = list_backups(stack)
    assert listing.rpo_seconds is None
    assert listing.rpo_worst is not None
    assert (listing.rpo_worst.component, listing.rpo_worst.backup) == ("files", None)
