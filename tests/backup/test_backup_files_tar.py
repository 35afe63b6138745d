"""Files backups through GNU tar: the tree hash read from the stream, the Python fallback, failures."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seawall.backup import create_backup, restore, verify_backup
from seawall.backup.errors import BackupError
from seawall.backup.sources import files
from seawall.backup.sources._tarstream import TreeTap
from seawall.backup.sources.base import Target
from seawall.backup.sources.files import FilesDatastore, tree_fingerprint
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.skipif(not files.gnu_tar_version(), reason="GNU tar is not installed")


def awkward_tree(root: Path) -> None:
    """Names tar must not misread: long, leading dash, non-ASCII, spaces; an empty file; a fifo."""
    deep = root / ("long-directory-name-" * 6) / "and-deeper"
    deep.mkdir(parents=True)
    (deep / ("file-" * 30 + ".txt")).write_bytes(os.urandom(70_000))
    (root / "-rf").write_text("not an option")
    (root / "ünïcødé ✓.txt").write_text("text")
    (root / "with space").write_text("x" * 1025)
    (root / "empty").write_bytes(b"")
    (root / "exec.sh").write_text("#!/bin/sh\n")
    (root / "exec.sh").chmod(0o4755)
    (root / "dangling").symlink_to("does/not/exist")
    (root / "hard").hardlink_to(root / "with space")
    os.mkfifo(root / "pipe")
    os.utime(root / "empty", (1_000_000_000.75, 1_000_000_000.75))


def dump_fingerprint(target: Target, tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    with FilesDatastore().dump(target, tmp_path) as dump:
        data = b""
        while chunk := dump.stream.read(1 << 16):
            data += chunk
        info = dump.finish()
    return info.fingerprint, data


def test_the_tree_hash_of_the_tar_stream_equals_the_tree_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    awkward_tree(root)
    target = Target(kind="files", path=root)
    recorded, data = dump_fingerprint(target, tmp_path)
    assert recorded == tree_fingerprint(target)
    assert recorded["entries"] == 10  # the fifo is not data
    out = tmp_path / "out"
    out.mkdir()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        names = tar.getnames()
        tar.extractall(out, filter="fully_trusted")
    assert "-rf" in names
    assert "pipe" not in names
    assert tree_fingerprint(Target(kind="files", path=out)) == recorded


@pytest.mark.parametrize("chunk", [1, 7, 511, 512, 513, 1536, 65_536, 1 << 20])
def test_the_tap_reads_the_same_tree_whatever_the_read_sizes(tmp_path: Path, chunk: int) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    awkward_tree(root)
    target = Target(kind="files", path=root)
    recorded, data = dump_fingerprint(target, tmp_path)
    tap = TreeTap(io.BytesIO(data))
    while tap.read(chunk):
        pass
    tap.check()
    assert tap.tree.result() == recorded == tree_fingerprint(target)


def test_a_fingerprint_recorded_before_the_method_key_is_reproduced_with_sha256(tmp_path: Path) -> None:
    """Backups made with per-file sha256 (no ``method``) still verify: the old lines are rebuilt."""
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_bytes(b"alpha\n")
    (root / "b.bin").write_bytes(os.urandom(3000))
    os.utime(root / "b.bin", (1_700_000_000.5, 1_700_000_000.5))
    target = Target(kind="files", path=root)
    lines = [f"d sub {(root / 'sub').stat().st_mode & 0o7777:o}"]
    for rel in ("sub/a.txt", "b.bin"):
        st = (root / rel).stat()
        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        lines.append(f"f {rel} {st.st_mode & 0o7777:o} {st.st_size} {int(st.st_mtime)} {digest}")
    legacy = {
        "entries": 3,
        "bytes": 3006,
        "tree_sha256": hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest(),
    }
    assert tree_fingerprint(target, like=legacy) == legacy
    current = tree_fingerprint(target)
    assert current["method"] == "tree-xxh128"
    assert current["tree_sha256"] != legacy["tree_sha256"]
    assert tree_fingerprint(target, like=current) == current


def test_a_fingerprint_of_an_unknown_method_is_a_clear_error(tmp_path: Path) -> None:
    target = Target(kind="files", path=tmp_path)
    with pytest.raises(BackupError, match="unknown files fingerprint method 'tree-blake9'"):
        tree_fingerprint(target, like={"method": "tree-blake9", "tree_sha256": ""})


def test_gnu_tar_and_the_python_writer_record_the_same_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    awkward_tree(root)
    target = Target(kind="files", path=root, exclude=("with space",))
    by_tar, _ = dump_fingerprint(target, tmp_path)
    monkeypatch.setattr(files, "gnu_tar_version", lambda: "")
    by_python, _ = dump_fingerprint(target, tmp_path)
    assert by_tar == by_python == tree_fingerprint(target)


def test_a_failing_tar_fails_the_datastore(make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = make_stack()
    real = files._tar_argv
    monkeypatch.setattr(files, "_tar_argv", lambda root: [*real(root), "--no-such-option"])
    result = create_backup(stack, components=["files"])
    assert not result.committed
    assert "tar exited with status" in result.failed[0].error


def test_a_truncated_tar_stream_is_detected(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a").write_bytes(os.urandom(5000))
    archive = subprocess.run(
        ["tar", "--create", "--format=posix", "--file=-", "-C", str(root), "a"],
        capture_output=True,
        check=True,
    ).stdout
    tap = TreeTap(io.BytesIO(archive[:3000]))
    while tap.read(1000):
        pass
    with pytest.raises(Exception, match="ended early"):
        tap.check()


def test_files_round_trip_through_gnu_tar_with_deep_verify(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack()
    awkward_tree(tmp_path / "data" / "more")
    (tmp_path / "data" / "more" / "pipe").unlink()  # a restore target cannot hold what was skipped
    backup = create_backup(stack, components=["files"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert "GNU tar" in art.tool_versions["tar"]
    assert verify_backup(stack, backup.id, deep=True).ok
    copy = tmp_path / "copy"
    restore(stack, backup.id, component="files", to=str(copy))
    assert (copy / "more" / "-rf").read_text() == "not an option"
    assert (copy / "more" / "exec.sh").stat().st_mode & 0o7777 == 0o4755
    assert os.readlink(copy / "more" / "dangling") == "does/not/exist"
    assert not (copy / "cache.tmp").exists()  # excluded


@pytest.mark.parametrize("gnu_tar", [True, False])
def test_mtimes_are_kept_to_the_second_with_no_pax_header_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gnu_tar: bool
) -> None:
    """A sub-second mtime would cost each file a 1 KiB PAX header; tar's own format keeps seconds."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.txt").write_text("alpha")
    os.utime(root / "a.txt", (1_700_000_000.75, 1_700_000_000.75))
    if not gnu_tar:
        monkeypatch.setattr(files, "gnu_tar_version", lambda: "")
    _, data = dump_fingerprint(Target(kind="files", path=root), tmp_path)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        member = tar.getmember("a.txt")
    assert member.pax_headers == {}
    assert member.mtime == 1_700_000_000


def test_only_the_tapped_tar_stream_writes_behind(
    make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files tap shares its thread with the compressor's feed; other streams write in line."""
    from seawall.backup import pipeline

    made: list[object] = []
    real = pipeline._WriteBehind

    def counted(sink: Any) -> Any:
        made.append(sink)
        return real(sink)

    monkeypatch.setattr(pipeline, "_WriteBehind", counted)
    stack = make_stack()
    assert create_backup(stack, components=["files"]).ok
    assert len(made) == 1
    assert create_backup(stack, components=["db"]).ok  # SQLite: a stream made elsewhere
    assert len(made) == 1
