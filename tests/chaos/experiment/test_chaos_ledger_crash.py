"""The restore ledger under SIGKILL: whenever the runner dies, `chaos restore` leaves nothing injected."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from chaos_helpers import MakeStack, http_server, write_experiment

from _helpers import free_port, wait_for
from seawall.chaos.faults.resource import FILL_PREFIX, HOG_MODULE
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import restore_pending
from seawall.config import StackConfig
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime

pytestmark = pytest.mark.integration

RUNNER = """
import sys
from pathlib import Path
from seawall.chaos.experiment import load_experiment, run_experiment
from seawall.config import load_stack
record = run_experiment(load_experiment(Path(sys.argv[2])), load_stack(Path(sys.argv[1])))
sys.exit(record.exit_code)
"""


def _experiment(fill_dir: Path) -> dict[str, object]:
    return {
        "title": "pause and hog, killed anywhere",
        "targets": ["catalog", "host"],
        "steady_state": {"probes": [{"probe": "catalog.ready"}]},
        "method": [
            {"fault": {"kind": "pause", "component": "catalog"}},
            {"fault": {"kind": "cpu", "cores": 1}},
            {"fault": {"kind": "disk_fill", "path": str(fill_dir), "mib": 2}},
            {"fault": {"kind": "memory", "mib": 16}},
            {"pause": "5s"},
        ],
        "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "5s"},
    }


def _hogs(tokens: set[str]) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if HOG_MODULE in cmdline and tokens & set(cmdline):
            with_status = proc.status() if proc.is_running() else psutil.STATUS_DEAD
            if with_status not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                found.append(proc.pid)
    return found


def _nothing_injected(stack: StackConfig, fill_dir: Path) -> None:
    status = get_runtime(stack).status(["catalog"])[0]
    assert status.state == "running", status
    assert status.pid is not None
    assert psutil.Process(status.pid).status() != psutil.STATUS_STOPPED
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []
        tokens = {f"seawall-chaos-{e.id}" for e in ledger.entries()}
    assert _hogs(tokens) == []
    assert list(fill_dir.glob(f"{FILL_PREFIX}*")) == []


def test_chaos_restore_after_sigkill_at_random_points_leaves_nothing(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """SIGKILL the runner at random delays; after `restore` nothing stays injected, and twice is harmless."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    fill_dir = tmp_path / "fill"
    fill_dir.mkdir()
    experiment = write_experiment(tmp_path / "exp.yaml", _experiment(fill_dir))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    rng = random.Random(4)
    assert stack.source is not None
    for delay in [rng.uniform(0.3, 2.5) for _ in range(6)]:
        runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(experiment)])
        try:
            time.sleep(delay)
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
        first = restore_pending(stack)
        assert first.ok, first.to_dict()
        _nothing_injected(stack, fill_dir)
        second = restore_pending(stack)
        assert second.outcomes == []
        assert second.ok


def test_chaos_sigterm_runs_every_inverse_before_exiting(make_stack: MakeStack, tmp_path: Path) -> None:
    """SIGTERM mid-method: the runner restores by itself and exits 130 with nothing pending."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    fill_dir = tmp_path / "fill"
    fill_dir.mkdir()
    experiment = write_experiment(tmp_path / "exp.yaml", _experiment(fill_dir))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    assert stack.source is not None
    runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(experiment)])

    def all_applied() -> bool:
        with Ledger(stack.state_dir) as ledger:
            return len([e for e in ledger.entries() if e.state == "active"]) == 4

    try:
        wait_for(all_applied, what="all four faults applied")
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(timeout=60)
    assert code == 130
    _nothing_injected(stack, fill_dir)
    assert restore_pending(stack).outcomes == []
