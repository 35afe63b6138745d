"""Guards watch the whole method: a guard that trips during a long action aborts it and restores."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from chaos_helpers import MakeStack, http_server, write_experiment
from edge_helpers import FAST, runner_script, running_unfrozen

from _helpers import free_port, wait_for
from seawall.chaos.experiment import RunStatus, parse_experiment, run_experiment
from seawall.chaos.ledger import Ledger
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime

pytestmark = pytest.mark.integration

SLEEPER = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"


def _long_action(pid_file: Path) -> dict[str, Any]:
    """A process action that records its pid and would run for a minute."""
    return {
        "type": "action",
        "name": "long job",
        "provider": {
            "type": "process",
            "path": sys.executable,
            "arguments": ["-c", SLEEPER, str(pid_file)],
            "timeout": 90,
        },
    }


def _gone(pid_file: Path) -> bool:
    try:
        proc = psutil.Process(int(pid_file.read_text()))
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_chaos_guard_trips_during_a_long_action_kills_it_and_restores(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """catalog stopped, then a one-minute action: the guard on catalog aborts within seconds."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    pid_file = tmp_path / "pid"
    doc = {
        "title": "guarded",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "stop", "component": "catalog"}}, _long_action(pid_file)],
        "guards": [{"name": "catalog answers", "probe": "catalog.ready", "failures": 2}],
        "runtime": dict(FAST),
    }
    started = time.monotonic()
    record = run_experiment(parse_experiment(doc), stack, handle_signals=False)
    elapsed = time.monotonic() - started
    assert record.status is RunStatus.ABORTED_BY_GUARD, record.notes
    assert record.exit_code == 14
    assert elapsed < 20
    assert "guard 'catalog answers' failed 2 time(s) in a row" in record.notes[0]
    assert _gone(pid_file)
    assert running_unfrozen(stack, "catalog")
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []


def test_chaos_guard_trips_during_a_foreground_fault_duration(make_stack: MakeStack) -> None:
    """A fault held for 60s is cut short by its guard, and its inverse still runs."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    doc = {
        "title": "guarded pause",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "pause", "component": "catalog", "duration": "60s"}}],
        "guards": [{"probe": "catalog.ready", "failures": 2}],
        "runtime": dict(FAST),
    }
    started = time.monotonic()
    record = run_experiment(parse_experiment(doc), stack, handle_signals=False)
    assert record.status is RunStatus.ABORTED_BY_GUARD, record.notes
    assert time.monotonic() - started < 20
    assert running_unfrozen(stack, "catalog")


def test_chaos_a_passing_guard_lets_a_long_action_finish(make_stack: MakeStack, tmp_path: Path) -> None:
    """The action runs to its end while the guard holds; its output is journalled."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    action = {
        "type": "action",
        "name": "short job",
        "provider": {
            "type": "process",
            "path": sys.executable,
            "arguments": ["-c", "import time; time.sleep(1); print('done')"],
        },
    }
    doc = {
        "title": "guard holds",
        "method": [action],
        "guards": [{"probe": "catalog.ready", "failures": 1}],
        "runtime": dict(FAST),
    }
    record = run_experiment(parse_experiment(doc), stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, record.notes
    assert record.run[0]["output"]["stdout"] == "done\n"


def test_chaos_sigterm_during_a_long_action_kills_it_and_restores(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """SIGTERM while a long action runs: the action's process is killed, the fault undone, exit 130."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    assert stack.source is not None
    pid_file = tmp_path / "pid"
    doc = {
        "title": "terminated",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "pause", "component": "catalog"}}, _long_action(pid_file)],
        "runtime": dict(FAST),
    }
    exp = write_experiment(tmp_path / "exp.yaml", doc)
    runner = subprocess.Popen([sys.executable, str(runner_script(tmp_path)), str(stack.source), str(exp)])
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", what="the long action")
    finally:
        runner.send_signal(signal.SIGTERM)
        code = runner.wait(timeout=60)
    assert code == 130
    assert _gone(pid_file)
    assert running_unfrozen(stack, "catalog")
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []
