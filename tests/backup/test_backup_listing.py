"""The listing trusts no cached manifest that changed on disk; the RPO per datastore."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from seawall.backup import create_backup, list_backups, verify_backup
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def manifest_path(stack: StackConfig, backup_id: str) -> Path:
    return stack.resolve("repo") / stack.stack / backup_id / "manifest.json"


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
    path = manifest_path(stack, backup.id)
    doc = json.loads(path.read_text())
    doc["tags"] = ["release"]
    path.write_text(json.dumps(doc))
    assert list_backups(stack).backups[0].entry.tags == ("release",)
