"""The engine on files and SQLite datastores: create, list, verify, restore, prune, corruption, keys."""

from __future__ import annotations

import json
import os
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from seawall.backup import create_backup, list_backups, prune, restore, show_backup, verify_backup
from seawall.backup.crypto import keygen
from seawall.backup.errors import BackupNotFound, KeyRequired, ManifestCorrupt, TargetNotEmpty
from seawall.backup.sources.config import running_images
from seawall.backup.sources.files import HostileMember, extract
from seawall.config import StackConfig, load_stack

MakeStack = Callable[..., StackConfig]


def repo_dir(stack_root: Path) -> Path:
    return stack_root / "repo" / "shop"


def test_the_progress_total_is_the_previous_backups_size_when_the_datastore_has_none(
    make_stack: MakeStack,
) -> None:
    """A files tree is not stat'ed for a total: the first backup has none, the next ones the last size."""
    stack = make_stack()
    totals: dict[int, list[int | None]] = {1: [], 2: []}
    first = create_backup(stack, ["files"], progress=lambda c, d, total: totals[1].append(total))
    second = create_backup(stack, ["files"], progress=lambda c, d, total: totals[2].append(total))
    assert first.ok
    assert second.ok
    assert set(totals[1]) == {None}
    assert set(totals[2]) == {first.artifacts[0].raw_bytes}
    (stack.root / "data" / "grown.bin").write_bytes(os.urandom(first.artifacts[0].raw_bytes))
    totals[3] = []
    assert create_backup(stack, ["files"], progress=lambda c, d, total: totals[3].append(total)).ok
    assert totals[3][0] == second.artifacts[0].raw_bytes
    assert totals[3][-1] is None  # outgrown: no total rather than a bar past 100 %
    newest = sorted(p for p in repo_dir(stack.root).iterdir() if (p / "manifest.json").exists())[-1]
    (newest / "manifest.json").write_text("{not json")
    totals[4] = []
    assert create_backup(stack, ["files"], progress=lambda c, d, total: totals[4].append(total)).ok
    assert totals[4][0] == second.artifacts[0].raw_bytes  # the damaged one is skipped, not fatal


def test_create_writes_one_artifact_per_datastore_and_the_manifest_last(make_stack: MakeStack) -> None:
    stack = make_stack()
    seen: set[str] = set()
    result = create_backup(stack, progress=lambda c, done, total: seen.add(c))
    assert result.ok
    assert result.exit_code == 0
    assert {a.component for a in result.artifacts} == {"files", "db", "stack-config"} == seen
    manifest = json.loads((repo_dir(stack.root) / result.id / "manifest.json").read_text())
    assert manifest["complete"]
    assert manifest["compression"]["algorithm"] == "zstd"
    db = next(a for a in manifest["artifacts"] if a["component"] == "db")
    assert db["fingerprint"]["tables"]["orders"]["rows"] == 500
    files = next(a for a in manifest["artifacts"] if a["component"] == "files")
    assert files["fingerprint"]["entries"] == 7  # cache.tmp excluded
    assert list_backups(stack).backups[0].entry.id == result.id


def test_deep_verify_restores_into_scratch_and_records_the_rpo(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    assert list_backups(stack).rpo_seconds is None
    result = verify_backup(stack, "latest", deep=True)
    assert result.ok, result.to_dict()
    listing = list_backups(stack)
    assert listing.newest_verified == backup.id
    assert listing.rpo_seconds is not None
    assert show_backup(stack, backup.id).checks[0].deep


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_verify_names_the_damaged_artifact(make_stack: MakeStack, damage: str) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    path = repo_dir(stack.root) / backup.id / "db.sqlite.zst"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[:-10]))
    else:
        path.unlink()
    result = verify_backup(stack, backup.id)
    assert not result.ok
    assert result.exit_code == 1
    bad = [c for c in result.checks if not c.ok]
    assert [c.file for c in bad] == ["db.sqlite.zst"]
    assert "db.sqlite.zst is corrupt" in bad[0].detail
    with pytest.raises(Exception, match=r"db\.sqlite\.zst is corrupt"):
        restore(stack, backup.id, component="db", to=str(stack.root / "elsewhere.db"))


def test_a_corrupt_manifest_is_reported_by_list_and_show(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    (repo_dir(stack.root) / backup.id / "manifest.json").write_text('{"format": 1, "id": ')
    listing = list_backups(stack, rescan=True)
    assert listing.backups == ()
    assert "is corrupt" in listing.errors[0]
    with pytest.raises(ManifestCorrupt):
        show_backup(stack, backup.id)


def test_restore_into_a_non_empty_target_needs_force_and_takes_a_safety_backup(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    db = sqlite3.connect(stack.root / "app.db")
    db.execute("DELETE FROM orders WHERE id > 10")
    db.commit()
    db.close()
    (stack.root / "data" / "a.txt").write_text("changed")
    (stack.root / "data" / "new.txt").write_text("added later")
    with pytest.raises(TargetNotEmpty, match="--force"):
        restore(stack, backup.id)
    result = restore(stack, backup.id, force=True)
    assert result.safety_backup is not None
    assert {c.component for c in result.components} == {"files", "db"}
    assert (stack.root / "data" / "a.txt").read_text() == "alpha\n"
    assert (stack.root / "data" / "a.txt").stat().st_mtime == 1_000_000_000
    assert (stack.root / "data" / "secret.txt").stat().st_mode & 0o777 == 0o600
    assert (stack.root / "data" / "link").readlink() == Path("sub/b.bin")
    assert not (stack.root / "data" / "new.txt").exists()
    assert (stack.root / "data" / "cache.tmp").exists()  # excluded paths are left alone
    with sqlite3.connect(stack.root / "app.db") as db:
        assert db.execute("SELECT count(*) FROM orders").fetchone() == (500,)
    safety = show_backup(stack, result.safety_backup).manifest
    assert safety.tags == ("pre-restore",)
    assert safety.artifact("db") is not None
    assert show_backup(stack, backup.id).restores[0]["ok"]


def test_restore_to_another_place_and_unknown_ids(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack()
    create_backup(stack, components=["files"], tags=["t1"])
    result = restore(stack, "latest", component="files", to=str(tmp_path / "copy"))
    assert result.components[0].fingerprint_ok
    assert (tmp_path / "copy" / "sub" / "deep" / "c.txt").read_text() == "gamma" * 1000
    with pytest.raises(BackupNotFound):
        restore(stack, "20200101T000000.000Z-abcdef")
    with pytest.raises(BackupNotFound, match="no backup holding 'db'"):
        restore(stack, "latest", component="db", to=str(tmp_path / "x.db"))


def test_a_failed_datastore_is_not_claimed_by_the_manifest(make_stack: MakeStack) -> None:
    stack = make_stack(
        {
            "files": {"datastore": {"kind": "files", "path": "data"}},
            "gone": {"datastore": {"kind": "sqlite", "path": "missing.db"}},
        }
    )
    result = create_backup(stack)
    assert result.committed
    assert not result.ok
    assert result.exit_code == 1
    assert [f.component for f in result.failed] == ["gone"]
    manifest = show_backup(stack, result.id).manifest
    assert manifest.artifact("gone") is None
    assert not manifest.complete
    assert not any(p.name.startswith("gone") for p in (repo_dir(stack.root) / result.id).iterdir())
    verified = verify_backup(stack, result.id)
    assert not verified.ok  # a partial backup does not protect "gone": never "ok"
    assert [(c.component, c.ok) for c in verified.checks if c.component != "stack-config"] == [
        ("files", True),
        ("gone", False),
    ]
    assert "not in this backup" in verified.checks[-1].detail
    restored = restore(stack, result.id, component=None, to=None, force=True)
    assert restored.missing == ("gone",)


def test_encrypted_backups_need_the_key(make_stack: MakeStack, tmp_path: Path) -> None:
    keygen(tmp_path / "backup.key")
    stack = make_stack(encryption={"identity_file": "backup.key"})
    (tmp_path / ".env").write_text("SECRET=1\n")
    backup = create_backup(stack)
    config = next(a for a in backup.artifacts if a.component == "stack-config")
    assert ".env" in config.position["files"]
    assert verify_backup(stack, backup.id, deep=True).ok
    (tmp_path / "backup.key").rename(tmp_path / "moved.key")
    with pytest.raises(KeyRequired, match="cannot read the identity file"):
        verify_backup(stack, backup.id, deep=True)
    keygen(tmp_path / "backup.key")  # a different key
    checks_before = show_backup(stack, backup.id).checks
    with pytest.raises(KeyRequired, match="does not open this backup"):
        verify_backup(stack, backup.id, deep=True)
    assert show_backup(stack, backup.id).checks == checks_before  # the key was wrong, not the backup
    assert verify_backup(stack, backup.id, deep=True, identity=tmp_path / "moved.key").ok
    before = (tmp_path / "app.db").read_bytes()
    with pytest.raises(KeyRequired, match="does not open this backup"):
        restore(stack, backup.id, component="db", force=True)
    assert (tmp_path / "app.db").read_bytes() == before
    assert len(list_backups(stack).backups) == 1  # no safety backup either: nothing was about to change


def test_env_is_left_out_of_unencrypted_backups(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack()
    (tmp_path / ".env").write_text("SECRET=1\n")
    config = next(a for a in create_backup(stack).artifacts if a.component == "stack-config")
    assert ".env" not in config.position["files"]
    assert any(".env left out" in n for n in config.notes)


def test_prune_applies_retention_and_dry_run_changes_nothing(make_stack: MakeStack) -> None:
    stack = make_stack(retention={"keep_last": 1, "keep_tags": ["keep"]})
    kept_by_tag = create_backup(stack, components=["db"], tags=["keep"]).id
    doomed = create_backup(stack, components=["db"]).id
    newest = create_backup(stack, components=["db"]).id
    dry = prune(stack, dry_run=True)
    assert [d.id for d in dry.decisions if not d.keep] == [doomed]
    assert dry.removed == ()
    assert len(list_backups(stack).backups) == 3
    result = prune(stack)
    assert result.removed == (doomed,)
    assert [b.entry.id for b in list_backups(stack).backups] == [kept_by_tag, newest]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("../escape.txt", tarfile.REGTYPE), ("/abs.txt", tarfile.REGTYPE), ("dev", tarfile.CHRTYPE)],
)
def test_hostile_tar_members_are_rejected(tmp_path: Path, name: str, kind: bytes) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        tar.addfile(info)
    with open(archive, "rb") as stream, pytest.raises(HostileMember, match="refusing tar member"):
        extract(stream, tmp_path / "target")
    assert not (tmp_path / "escape.txt").exists()


def test_writing_through_an_archived_symlink_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        tar.addfile(tarfile.TarInfo("escape/pwned"))
        over = tarfile.TarInfo("self")
        over.type, over.linkname = tarfile.SYMTYPE, str(outside / "f")
        tar.addfile(over)
    with open(archive, "rb") as stream, pytest.raises(HostileMember):
        extract(stream, tmp_path / "target")
    assert list(outside.iterdir()) == []


def test_image_digests_are_a_note_when_the_engine_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: busybox\n")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    images, notes = running_images(load_stack(tmp_path / "compose.yaml"))
    assert images == {}
    assert len(notes) == 1
    assert notes[0].startswith("image digests not recorded: the container engine at unix://")


def test_a_local_stack_records_no_images(make_stack: MakeStack) -> None:
    assert running_images(make_stack()) == ({}, [])
