"""Artifacts are written back to disk while they grow and do not stay in the page cache."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from seawall.backup import create_backup, verify_backup
from seawall.backup.repository.local import _WriteBehind
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def resident_bytes(path: Path) -> int:
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.split()[0])


@pytest.mark.skipif(shutil.which("fincore") is None, reason="util-linux fincore is not installed")
def test_a_large_artifact_leaves_the_page_cache_as_written(make_stack: MakeStack, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    for i in range(3):
        (big / f"blob{i}").write_bytes(os.urandom(16 << 20))  # incompressible: the artifact is 48 MiB
    stack = make_stack({"blobs": {"datastore": {"kind": "files", "path": "big"}}}, compression="none")
    backup = create_backup(stack, components=["blobs"])
    assert backup.ok, backup.failed
    artifact = next((tmp_path / "repo").rglob("blobs.tar"))
    size = artifact.stat().st_size
    assert size > 48 << 20
    # the last two 8 MiB steps may still be resident; without the advice all 48 MiB would be
    assert resident_bytes(artifact) < size // 2
    assert verify_backup(stack, backup.id).ok  # read back from the disk, it still checks out


def test_a_small_artifact_is_written_whole(tmp_path: Path) -> None:
    with open(tmp_path / "a", "wb") as out:
        behind = _WriteBehind(out)
        for _ in range(3):
            assert behind.write(b"x" * 1000) == 1000
    assert (tmp_path / "a").read_bytes() == b"x" * 3000
