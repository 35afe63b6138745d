"""Kill -9 of a backup at random points: nothing incomplete is ever listed, the lock is recovered."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seawall.backup import create_backup, list_backups, verify_backup
from seawall.backup.errors import RepositoryLocked
from seawall.backup.repository.local import LocalRepository
from seawall.backup.repository.lock import hold_lock
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

RUN = (
    "from seawall.config import load_stack; from seawall.backup import create_backup\n"
    "stack = load_stack(); print('ready', flush=True); create_backup(stack)"
)


def test_kill_9_at_random_points_leaves_only_complete_backups(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack(level=9, threads=1)
    with open(tmp_path / "data" / "big.bin", "wb") as out:
        out.write(os.urandom(24 * 1024 * 1024))
    first = create_backup(stack)
    assert first.ok
    rng = random.Random(1234)
    repo = tmp_path / "repo" / "shop"
    interrupted = 0
    for _ in range(8):
        child = subprocess.Popen([sys.executable, "-c", RUN], cwd=tmp_path, stdout=subprocess.PIPE)
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        child.stdout.close()
        time.sleep(rng.uniform(0.0, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        interrupted += any(p.is_dir() and not (p / "manifest.json").exists() for p in repo.iterdir())
        listing = list_backups(stack, rescan=True)
        assert listing.errors == ()
        for info in listing.backups:
            assert info.entry.complete
    # every listed backup, old or written just before a kill, verifies
    for info in list_backups(stack).backups:
        assert verify_backup(stack, info.entry.id).ok
    assert interrupted >= 2, "the kills should land in the middle of backups"
    after = create_backup(stack)
    assert after.ok
    leftovers = [p.name for p in repo.iterdir() if not (p / "manifest.json").exists()]
    assert leftovers == ["lock"], [(n, sorted(p.name for p in (repo / n).glob("*"))) for n in leftovers]
    assert verify_backup(stack, first.id, deep=True).ok


def test_a_live_lock_holder_blocks_a_second_writer(tmp_path: Path) -> None:
    code = "from pathlib import Path; from seawall.backup.repository.lock import hold_lock\n"
    code += f"with hold_lock(Path({str(tmp_path / 'lock')!r}), 'second'): pass"
    with hold_lock(tmp_path / "lock", "first"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert f"is locked by pid {os.getpid()}" in done.stderr
    assert RepositoryLocked.__name__ in done.stderr


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    code = "import time; from pathlib import Path; from seawall.backup.repository.lock import hold_lock\n"
    code += f"with hold_lock(Path({str(tmp_path / 'lock')!r}), 'doomed'):\n"
    code += "    print('held', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    child.kill()
    child.wait()
    child.stdout.close()
    with hold_lock(tmp_path / "lock", "next") as stale:
        assert stale is not None
        assert stale.pid == child.pid
        assert stale.purpose == "doomed"


def test_a_backups_sweep_leaves_a_live_readers_staging_and_takes_a_dead_ones(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """Restores and deep verifications stage without the writer lock: only their owner's death frees it."""
    stack = make_stack()
    base = tmp_path / "repo" / "shop"
    code = "import time\nfrom pathlib import Path\n"
    code += "from seawall.backup.repository.local import LocalRepository\n"
    code += f"with LocalRepository(Path({str(tmp_path / 'repo')!r})).staging('shop') as s:\n"
    code += "    print(s, flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    doomed = Path(child.stdout.readline().strip())
    child.kill()
    child.wait()
    child.stdout.close()
    legacy_old, legacy_new = base / ".staging-old", base / ".staging-new"  # no owner file
    legacy_old.mkdir()
    legacy_new.mkdir()
    os.utime(legacy_old, (time.time() - 600, time.time() - 600))  # legacy_new is too young to judge
    with LocalRepository(tmp_path / "repo").staging("shop") as live:
        (live / "dump.rdb").write_bytes(b"being restored")
        backup = create_backup(stack)
        assert backup.ok, backup.failed
        assert (live / "dump.rdb").read_bytes() == b"being restored"
    assert not doomed.exists()
    assert not legacy_old.exists()
    assert legacy_new.exists()
    assert not any("incomplete backup" in note for note in backup.notes)  # staging is not a backup


@pytest.mark.parametrize(
    "record",
    [
        '{"pid": 1e999, "host": "h", "since": 0, "purpose": "x"}',
        '{"pid": 12, "host": "h", "since": 1e20, "purpose": "x"}',
        '{"pid": -5, "host": "h", "since": 0, "purpose": "x"}',
        "not json at all",
    ],
)
def test_a_lock_file_with_a_record_that_makes_no_sense_is_taken_over_quietly(
    tmp_path: Path, record: str
) -> None:
    (tmp_path / "lock").write_text(record)
    with hold_lock(tmp_path / "lock", "next") as stale:
        assert stale is None
