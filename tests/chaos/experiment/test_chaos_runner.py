"""The experiment runner on real local processes: statuses, measured recovery, journal, JUnit, Markdown."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack, http_server

from _helpers import free_port
from seawall.chaos.experiment import (
    RunStatus,
    build_journal,
    get_run,
    junit,
    list_runs,
    markdown,
    parse_experiment,
    run_experiment,
    save_run,
)
from seawall.chaos.ledger import Ledger
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime
from seawall.store import open_store

pytestmark = pytest.mark.integration

FAST = {"probe_interval": "100ms", "sustained": 2, "recovery_timeout": "10s"}


def _exp(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": "t",
        "targets": ["catalog"],
        "steady_state": {"probes": [{"probe": "catalog.ready"}]},
        "runtime": dict(FAST),
    }
    doc.update(extra)
    return doc


def test_chaos_pause_deviates_then_recovers_with_measured_mttr(make_stack: MakeStack, tmp_path: Path) -> None:
    """A 1s pause breaches the steady state (deviated, exit 10); impact, removal and recovery are measured."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    experiment = parse_experiment(
        _exp(method=[{"fault": {"kind": "pause", "component": "catalog", "duration": "1s"}}], seed=7)
    )
    record = run_experiment(experiment, stack, handle_signals=False)
    assert record.status is RunStatus.DEVIATED
    assert record.exit_code == 10
    recovery = record.faults[0].recoveries["catalog.ready"]
    assert recovery.time_to_impact is not None
    assert recovery.mttr is not None
    assert recovery.mttr > 0
    assert recovery.recovered_ok
    doc = build_journal(record)
    for key in ("chaoslib-version", "platform", "node", "experiment", "start", "end", "duration", "status"):
        assert key in doc
    assert doc["deviated"] is True
    assert doc["steady_states"]["before"]["steady_state_met"] is True
    assert doc["seawall"]["seed"] == 7
    assert doc["seawall"]["faults"][0]["probes"]["catalog.ready"]["mttr"] > 0
    suite = ET.fromstring(junit(doc))
    assert suite.get("failures") == "1"  # only the verdict: the recovery itself was fine
    assert "| pause | catalog | catalog.ready |" in markdown(doc)
    with open_store(stack.state_dir) as store:
        save_run(store, doc, record.start)
        assert [r.id for r in list_runs(store)] == [record.run_id]
        assert get_run(store, record.run_id[:6])["seawall"]["status"] == "deviated"
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []


def test_chaos_kill_in_after_mode_passes_when_recovery_is_in_time(make_stack: MakeStack) -> None:
    """SIGKILL with a restart policy, judged after the method only: passed (exit 0), MTTR recorded."""
    stack = make_stack({"catalog": http_server(free_port())})
    up(stack, get_runtime(stack))
    experiment = parse_experiment(
        _exp(
            method=[{"fault": {"kind": "kill", "component": "catalog"}}, {"pause": "1s"}],
            expect={"recover_within": "20s"},
            runtime={**FAST, "hypothesis": "after"},
        )
    )
    record = run_experiment(experiment, stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, record.notes
    assert get_runtime(stack).status(["catalog"])[0].state == "running"


def test_chaos_statuses_without_processes(make_stack: MakeStack, tmp_path: Path) -> None:
    """Guard abort (14), failed rollback (13), no recovery (11), failed action and unreachable proxy (12)."""
    flag = tmp_path / "flag"
    flag.write_text("x")
    port = free_port()
    stack = make_stack(
        {
            "catalog": http_server(port),
            "web": {"command": [sys.executable, "-c", "pass"], "env": {"CATALOG_URL": f"http://127.0.0.1:{port}"},
                    "edges": {"catalog": "CATALOG_URL"}},
        }
    )  # fmt: skip
    flag_probe = {"check": {"command": ["test", "-f", str(flag)]}}
    quick = {**FAST, "recovery_timeout": "1s"}

    guard = _exp(
        steady_state={"probes": [flag_probe]},
        method=[{"pause": "20s"}],
        guards=[{"check": {"command": ["false"]}, "failures": 1}],
    )
    assert run_experiment(parse_experiment(guard), stack, handle_signals=False).exit_code == 14

    bad_rollback = _exp(
        steady_state={"probes": [flag_probe]},
        method=[{"pause": "100ms"}],
        rollbacks=[{"type": "action", "provider": {"type": "process", "path": "false"}, "tolerance": 0}],
    )
    assert run_experiment(parse_experiment(bad_rollback), stack, handle_signals=False).exit_code == 13

    gone = _exp(
        steady_state={"probes": [flag_probe]},
        method=[{"type": "action", "provider": {"type": "process", "path": "rm", "arguments": [str(flag)]}}],
        runtime=quick,
    )
    assert (
        run_experiment(parse_experiment(gone), stack, handle_signals=False).status is RunStatus.NOT_RECOVERED
    )
    flag.write_text("x")

    broken_action = _exp(
        steady_state={"probes": [flag_probe]},
        method=[
            {"type": "action", "provider": {"type": "process", "path": str(tmp_path / "no-such-program")}}
        ],
    )
    assert run_experiment(parse_experiment(broken_action), stack, handle_signals=False).exit_code == 12

    no_proxy = _exp(
        targets=["catalog"],
        steady_state={"probes": [flag_probe]},
        method=[{"fault": {"kind": "latency", "edge": "web->catalog", "ms": 800}}],
        runtime={**quick, "proxy_api": f"http://127.0.0.1:{free_port()}"},
    )
    record = run_experiment(parse_experiment(no_proxy), stack, handle_signals=False)
    assert record.status is RunStatus.INJECTION_FAILED
    assert record.exit_code == 12
    journal = json.loads(json.dumps(build_journal(record), default=str))
    assert journal["status"] == "failed"
    # the intent was written before the attempt, and its inverse ran (the proxy holds nothing)
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []
