"""A committed manifest changed by one byte is refused by every reader; one from before checksums is not."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from _helpers import run_cli
from seawall.backup import create_backup, list_backups, restore, show_backup, verify_backup
from seawall.backup.errors import ManifestCorrupt
from seawall.backup.manifest import CHECKSUM
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
CHANGED = "it was changed after it was committed"


def manifest_path(stack: StackConfig, backup_id: str) -> Path:
    return stack.resolve("repo") / stack.stack / backup_id / "manifest.json"


def flip(path: Path, needle: str, at: int = -1) -> None:
    """Flip the lowest bit of byte ``at`` of ``needle``, found once in the file: a digit stays a digit
    and a letter a letter, so the manifest stays valid JSON with every field of its type."""
    data = bytearray(path.read_bytes())
    assert data.count(needle.encode()) == 1, needle
    data[data.index(needle.encode()) + at % len(needle)] ^= 0x01
    path.write_bytes(bytes(data))


def strip_checksum(path: Path) -> None:
    """Make a fresh manifest one from before checksums: the same document, laid out as it was then."""
    doc = json.loads(path.read_text())
    del doc[CHECKSUM]
    path.write_bytes((json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())


def change_live_data(stack: StackConfig) -> None:
    """What a restore over the live datastores would overwrite."""
    (stack.root / "data" / "a.txt").write_text("changed")
    with sqlite3.connect(stack.root / "app.db") as db:
        db.execute("DELETE FROM orders WHERE id > 10")


def live_data(stack: StackConfig) -> tuple[str, int]:
    with sqlite3.connect(stack.root / "app.db") as db:
        rows = db.execute("SELECT count(*) FROM orders").fetchone()[0]
    return (stack.root / "data" / "a.txt").read_text(), rows


def damage_in(stack: StackConfig, backup_id: str, damage: str) -> tuple[str, int]:
    """Where to flip a byte of this backup's manifest: the needle and the byte of it."""
    doc = json.loads(manifest_path(stack, backup_id).read_text())
    db = next(a for a in doc["artifacts"] if a["component"] == "db")
    return {
        "fingerprint": ('"rows": 500', -1),  # 500 -> 501 rows of orders
        "size": (f'"stored_bytes": {db["stored_bytes"]},', -2),  # its last digit
        "position": ('"seawall.yaml', -1),  # a file the config artifact's position names
        "tag": ('"nightly', -1),
    }[damage]


@pytest.mark.parametrize("damage", ["fingerprint", "size", "position", "tag"])
def test_one_flipped_byte_is_refused_by_verify_list_show_and_restore(
    make_stack: MakeStack, damage: str
) -> None:
    stack = make_stack()
    backup = create_backup(stack, tags=["nightly"])
    assert list_backups(stack).backups[0].entry.id == backup.id  # catalogued, with its stamp
    flip(manifest_path(stack, backup.id), *damage_in(stack, backup.id, damage))
    change_live_data(stack)
    before = live_data(stack)

    with pytest.raises(ManifestCorrupt, match=CHANGED) as caught:
        verify_backup(stack, backup.id)
    assert backup.id in str(caught.value)
    listing = list_backups(stack)
    assert listing.backups == ()
    assert len(listing.errors) == 1
    assert backup.id in listing.errors[0]
    assert CHANGED in listing.errors[0]
    assert list_backups(stack, rescan=True).errors == listing.errors
    with pytest.raises(ManifestCorrupt, match=CHANGED):
        show_backup(stack, backup.id)
    for backup_id in (backup.id, "latest"):
        with pytest.raises(ManifestCorrupt, match=CHANGED):
            restore(stack, backup_id, force=True)
    assert live_data(stack) == before  # nothing was overwritten
    backups = [p.name for p in manifest_path(stack, backup.id).parent.parent.iterdir() if p.is_dir()]
    assert backups == [backup.id]  # not even a safety backup was taken


def test_the_cli_reports_a_changed_manifest_with_exit_1(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack, tags=["nightly"])
    good = run_cli(stack.root, "backup", "verify", backup.id)
    assert good.returncode == 0, good.stderr
    assert "manifest: checksum ok (sha256:" in good.stdout
    shown = json.loads(run_cli(stack.root, "backup", "show", backup.id, "--json").stdout)
    assert shown["manifest"]["checksum"].startswith("sha256:")
    flip(manifest_path(stack, backup.id), '"nightly')
    for command in (("backup", "verify", backup.id), ("backup", "show", backup.id), ("restore", "--force")):
        done = run_cli(stack.root, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"{backup.id}/manifest.json is corrupt: {CHANGED}" in done.stderr
        assert "Traceback" not in done.stderr
    listed = run_cli(stack.root, "backup", "list")
    assert listed.returncode == 0
    assert CHANGED in " ".join(listed.stdout.split())  # as the terminal's width wrapped it


def test_a_flipped_byte_in_the_checksums_own_name_is_not_taken_for_an_old_manifest(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    flip(manifest_path(stack, backup.id), f'"{CHECKSUM}')  # "checksum" becomes "checksul"
    with pytest.raises(ManifestCorrupt, match=CHANGED):
        verify_backup(stack, backup.id)


def test_a_manifest_from_before_checksums_lists_verifies_and_restores_as_before(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    backup = create_backup(stack, tags=["nightly"])
    strip_checksum(manifest_path(stack, backup.id))
    listing = list_backups(stack)
    assert (listing.errors, [b.entry.id for b in listing.backups]) == ((), [backup.id])
    assert show_backup(stack, backup.id).manifest.checksum is None
    result = verify_backup(stack, backup.id, deep=True)
    assert result.ok, result.to_dict()
    assert result.to_dict()["manifest"] == {
        "checksum": None,
        "detail": "no checksum (written before manifests had one): not checked",
    }
    shown = run_cli(stack.root, "backup", "verify", backup.id)
    assert shown.returncode == 0, shown.stderr
    assert "manifest: no checksum" in shown.stdout
    change_live_data(stack)
    restored = restore(stack, backup.id, force=True)
    assert {c.component for c in restored.components} == {"files", "db"}
    assert live_data(stack) == ("alpha\n", 500)
    assert list_backups(stack, rescan=True).errors == ()


def test_a_hand_edit_of_a_manifest_from_before_checksums_is_read_as_before(make_stack: MakeStack) -> None:
    """Nothing recorded what it held, so nothing can tell: the edit is read, as it always was."""
    stack = make_stack()
    backup = create_backup(stack, tags=["nightly"])
    path = manifest_path(stack, backup.id)
    strip_checksum(path)
    flip(path, '"nightly')
    assert show_backup(stack, backup.id).manifest.tags == ("nightlx",)
    os.utime(path)
    assert list_backups(stack).errors == ()
