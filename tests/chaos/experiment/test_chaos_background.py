"""Background faults: injected, held while the method goes on, overlapping, each removed on its own time."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack, write_experiment
from edge_helpers import FAST, edge_stack, runner_script, running_unfrozen, toxic_names

from _helpers import wait_for
from seawall.chaos.experiment import RunStatus, build_journal, parse_experiment, run_experiment
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import restore_pending
from seawall.errors import ConfigError

pytestmark = pytest.mark.integration


def _listing(api: str) -> dict[str, Any]:
    return {
        "name": "toxics now",
        "type": "probe",
        "provider": {
            "type": "python",
            "module": "edge_helpers",
            "func": "toxic_names",
            "arguments": {"api": api},
        },
    }


def test_chaos_background_faults_overlap_and_are_removed_on_their_own_time(make_stack: MakeStack) -> None:
    """Latency 2s and a 0.6s cut overlap; each is removed when its duration ends, measured per fault."""
    stack, api, _ = edge_stack(make_stack)
    doc = {
        "title": "overlap",
        "targets": ["catalog", "web"],
        "steady_state": {"probes": [{"probe": "catalog.ready"}]},
        "method": [
            {
                "fault": {"kind": "latency", "edge": "web->catalog", "ms": 300, "duration": "2s"},
                "background": True,
            },
            {"fault": {"kind": "down", "edge": "worker->catalog", "duration": "600ms"}, "background": True},
            _listing(api),
            {"fault": {"kind": "down", "edge": "catalog->web"}, "background": True},  # until the method ends
            {"pause": "1s"},
            _listing(api),
            {"pause": "1500ms"},
        ],
        "runtime": dict(FAST),
    }
    started = time.monotonic()
    record = run_experiment(parse_experiment(doc), stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, record.notes
    journal = build_journal(record)
    latency, cut, end_cut = journal["seawall"]["faults"]
    assert all(f["background"] for f in (latency, cut, end_cut))
    # both held at once, then only the latency once the cut's 600 ms were over
    first, second = (r["output"] for r in journal["run"] if r["activity"]["name"] == "toxics now")
    assert first["web_to_catalog"]
    assert first["worker_to_catalog"]
    assert second["web_to_catalog"]
    assert second["catalog_to_web"]
    assert not second["worker_to_catalog"]
    assert cut["injected_at"] > latency["injected_at"]
    assert cut["removed_at"] < latency["removed_at"]
    assert 0.55 <= cut["removed_at"] - cut["injected_at"] < 1.0
    assert 1.95 <= latency["removed_at"] - latency["injected_at"] < 2.4
    # no duration: removed at the end of the method (after its last pause), not before
    assert end_cut["removed_at"] - end_cut["injected_at"] >= 2.4
    assert end_cut["removed_at"] >= latency["removed_at"]
    for fault in (latency, cut, end_cut):
        assert fault["probes"]["catalog.ready"]["recovered"] is True
    assert time.monotonic() - started < 15
    assert all(names == [] for names in toxic_names(api).values())
    with Ledger(stack.state_dir) as ledger:
        assert [e.state for e in ledger.entries(record.run_id)] == ["restored"] * 3


def test_chaos_background_fault_recovery_is_measured_from_its_own_removal(make_stack: MakeStack) -> None:
    """A background pause of catalog overlapping a later fault: its impact and recovery are its own."""
    stack, _, _ = edge_stack(make_stack)
    doc = {
        "title": "pause in the background",
        "targets": ["catalog"],
        "steady_state": {"probes": [{"probe": "catalog.ready"}]},
        "method": [
            {"fault": {"kind": "pause", "component": "catalog", "duration": "800ms"}, "background": True},
            {"fault": {"kind": "latency", "edge": "web->catalog", "ms": 100, "duration": "1500ms"}},
        ],
        "runtime": dict(FAST),
    }
    record = run_experiment(parse_experiment(doc), stack, handle_signals=False)
    assert record.status is RunStatus.DEVIATED, record.notes
    paused, latency = record.faults
    assert paused.injected_at is not None
    assert paused.removed_at is not None
    assert latency.removed_at is not None
    assert paused.removed_at < latency.removed_at  # removed while the foreground fault still waited
    assert 0.75 <= paused.removed_at - paused.injected_at < 1.2
    recovery = paused.recoveries["catalog.ready"]
    assert recovery.time_to_impact is not None
    assert recovery.after_removal is not None
    assert recovery.after_removal < 1.5
    assert recovery.recovered_ok


def test_chaos_background_on_a_pause_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not to a pause"):
        parse_experiment({"title": "t", "method": [{"pause": "1s", "background": True}]})


def test_chaos_restore_after_sigkill_with_overlapping_background_faults(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """SIGKILL the runner while background faults and a paused component overlap: restore leaves nothing."""
    stack, api, _ = edge_stack(make_stack)
    assert stack.source is not None
    doc = {
        "title": "overlap, killed",
        "targets": ["catalog", "worker"],
        "method": [
            {
                "fault": {"kind": "latency", "edge": "web->catalog", "ms": 500, "duration": "20s"},
                "background": True,
            },
            {
                "fault": {"kind": "partition", "between": ["worker", "catalog"], "duration": "20s"},
                "background": True,
            },
            {"fault": {"kind": "pause", "component": "worker"}, "background": True},
            {"pause": "20s"},
        ],
    }
    exp = write_experiment(tmp_path / "exp.yaml", doc)
    script = runner_script(tmp_path)
    rng = random.Random(9)
    for _ in range(2):
        runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(exp)])

        def all_active() -> bool:
            with Ledger(stack.state_dir) as ledger:
                return len([e for e in ledger.pending() if e.state == "active"]) == 3

        try:
            wait_for(all_active, what="three overlapping faults")
            time.sleep(rng.uniform(0.0, 0.5))
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
        names = toxic_names(api)
        assert names["web_to_catalog"]
        assert names["worker_to_catalog"]
        first = restore_pending(stack)
        assert first.ok, first.to_dict()
        assert sorted(o.entry.kind for o in first.outcomes) == ["partition", "pause", "toxic"]
        assert all(names == [] for names in toxic_names(api).values())
        assert running_unfrozen(stack, "worker")
        assert restore_pending(stack).outcomes == []
