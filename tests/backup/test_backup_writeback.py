"""Artifacts are handed to the disk window by window while they are written (early writeback)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from seawall.backup.manifest import new_backup_id
from seawall.backup.repository import writeback
from seawall.backup.repository.local import LocalRepository
from seawall.backup.repository.writeback import WINDOW, EarlyWriteback


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Record each writeback request; the real call still runs and must succeed."""
    real = writeback._sync_file_range
    if real is None:
        pytest.skip("sync_file_range is Linux only")
    calls: list[tuple[int, int, int]] = []

    def record(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append((offset, nbytes, flags))
        result = real(fd, offset, nbytes, flags)
        assert result == 0, os.strerror(ctypes.get_errno())
        return result

    monkeypatch.setattr(writeback, "_sync_file_range", record)
    return calls


def test_windows_are_queued_in_order_and_the_file_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _recording(monkeypatch)
    chunk = os.urandom(3 << 20)  # not a divisor of the window: requests fall between writes
    path = tmp_path / "artifact"
    with EarlyWriteback(path) as out:
        for _ in range(9):
            out.write(chunk)
    assert path.read_bytes() == chunk * 9
    offsets = [offset for offset, _, _ in calls]
    assert len(calls) == 3
    assert offsets == sorted(offsets)
    assert offsets[0] == 0
    # each request starts where the last ended and covers at least a window
    for (offset, nbytes, flags), nxt in zip(calls, [*offsets[1:], None], strict=True):
        assert nbytes >= WINDOW
        assert flags == 2
        assert nxt is None or nxt == offset + nbytes


def test_small_artifacts_ask_for_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recording(monkeypatch)
    with EarlyWriteback(tmp_path / "small") as out:
        out.write(b"x" * 1000)
    assert calls == []
    assert (tmp_path / "small").stat().st_size == 1000


def test_without_the_call_the_file_is_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback, "_sync_file_range", None)
    data = os.urandom(WINDOW + 12345)
    with EarlyWriteback(tmp_path / "plain") as out:
        out.write(data)
    assert (tmp_path / "plain").read_bytes() == data


def test_an_artifact_is_created_exclusively(tmp_path: Path) -> None:
    (tmp_path / "taken").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        EarlyWriteback(tmp_path / "taken")
    assert (tmp_path / "taken").read_bytes() == b"old"


def test_the_repository_writes_artifacts_through_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _recording(monkeypatch)
    repo = LocalRepository(tmp_path)
    backup_id = new_backup_id(0)
    repo.begin("s", backup_id)
    data = os.urandom(2 * WINDOW)
    with repo.write_artifact("s", backup_id, "db.bin") as out:
        out.write(data)
    assert (tmp_path / "s" / backup_id / "db.bin").read_bytes() == data
    assert calls
    assert calls[0][0] == 0
