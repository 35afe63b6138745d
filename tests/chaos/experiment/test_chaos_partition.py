"""Partition faults through the supervisor's real proxy: cut both ways, one ledger entry, healed always."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack, write_experiment
from edge_helpers import FAST, cli, edge_stack, fetch, runner_script, toxic_names

from _helpers import wait_for
from seawall.chaos.experiment import (
    RunStatus,
    build_journal,
    parse_experiment,
    plan_experiment,
    run_experiment,
)
from seawall.chaos.faults import FaultContext, InjectionFailed, Partition
from seawall.chaos.faults.network import call_api
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import restore_pending
from seawall.errors import UsageError
from seawall.runtime import get_runtime

pytestmark = pytest.mark.integration


def _partition_doc(fault: dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": "partition",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "partition", **fault}}, {"pause": "300ms"}],
        "runtime": dict(FAST),
    }
    doc.update(extra)
    return doc


def test_chaos_partition_cuts_every_edge_both_ways_and_heals_them(make_stack: MakeStack) -> None:
    """web<->catalog and worker->catalog cut as one fault: refused, live links closed, then healed."""
    stack, api, edges = edge_stack(make_stack)
    wanted = ["web->catalog", "catalog->web", "worker->catalog"]
    # a connection open before the fault must be cut too, not just new ones refused
    live = socket.create_connection(tuple(edges["web->catalog"].rsplit(":", 1)), timeout=5)  # type: ignore[arg-type]
    probe = {
        "name": "through the edges",
        "type": "probe",
        "provider": {
            "type": "python",
            "module": "edge_helpers",
            "func": "fetch_all",
            "arguments": {"addresses": [edges[e] for e in wanted]},
        },
    }
    doc = _partition_doc({"edges": ["web->catalog", "worker->catalog"]})
    doc["method"].insert(1, probe)
    try:
        record = run_experiment(parse_experiment(doc), stack, handle_signals=False, seed=3)
        assert live.recv(1) == b""  # closed by the proxy while the partition held
    finally:
        live.close()
    assert record.status is RunStatus.PASSED, record.notes
    journal = build_journal(record)
    fault = journal["seawall"]["faults"][0]
    assert fault["kind"] == "partition"
    assert fault["fault"]["edges"] == ["catalog->web", "web->catalog", "worker->catalog"]  # declared order
    assert fault["inverse"]["kind"] == "heal_partition"
    assert len(fault["inverse"]["parts"]) == 3
    assert journal["run"][1]["output"] == {edges[e]: "refused" for e in wanted}
    assert journal["seawall"]["blast_radius"] == [
        "catalog",
        "catalog->web",
        "web",
        "web->catalog",
        "worker",
        "worker->catalog",
    ]
    with Ledger(stack.state_dir) as ledger:
        entries = ledger.entries(record.run_id)
    assert [(e.kind, e.state) for e in entries] == [("partition", "restored")]
    assert all(names == [] for names in toxic_names(api).values())
    assert {e: fetch(edges[e]) for e in wanted} == dict.fromkeys(wanted, "ok")


def test_chaos_partition_between_groups_resolves_declared_edges(make_stack: MakeStack) -> None:
    """between: [[web, worker], catalog] is every declared edge across the two sides, in both directions."""
    stack, _, _ = edge_stack(make_stack)
    doc = _partition_doc({"between": [["web", "worker"], "catalog"]})
    plan = plan_experiment(parse_experiment(doc), stack, 1)
    assert plan.faults[0].target == "catalog->web, web->catalog, worker->catalog"
    assert plan.to_dict()["faults"][0]["inverse"]["kind"] == "heal_partition"
    only_web = plan_experiment(parse_experiment(_partition_doc({"between": ["worker", "catalog"]})), stack, 1)
    assert only_web.faults[0].target == "worker->catalog"
    with pytest.raises(
        UsageError, match="method step 1: partition fault: the stack declares no edge 'web->db'"
    ):
        plan_experiment(parse_experiment(_partition_doc({"edges": ["web->db"]})), stack, 1)
    with pytest.raises(UsageError, match="no edge between"):
        plan_experiment(parse_experiment(_partition_doc({"between": ["web", "worker"]})), stack, 1)
    not_allowed = _partition_doc({"edges": ["worker->catalog"]}, targets=["web"])
    with pytest.raises(UsageError, match="not in the targets"):
        plan_experiment(parse_experiment(not_allowed), stack, 1)


def test_chaos_partition_partial_failure_heals_the_edges_already_cut(make_stack: MakeStack) -> None:
    """The second edge cannot be cut (its proxy is gone): the first is healed before the fault fails."""
    stack, api, _ = edge_stack(make_stack)
    status, _ = call_api(api, "DELETE", "/proxies/worker_to_catalog")
    assert status == 204
    fault = Partition("p1", ["web->catalog", "worker->catalog"], api=api, ttl=60)
    ctx = FaultContext(stack, get_runtime, api)
    try:
        with pytest.raises(InjectionFailed, match=r"cutting worker->catalog failed, 1 edge\(s\) already cut"):
            fault(ctx)
    finally:
        ctx.close()
    assert all(names == [] for names in toxic_names(api).values())
    record = run_experiment(
        parse_experiment(_partition_doc({"edges": ["web->catalog", "worker->catalog"]})),
        stack,
        handle_signals=False,
    )
    assert record.status is RunStatus.INJECTION_FAILED
    assert all(names == [] for names in toxic_names(api).values())
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []


def test_chaos_partition_cli_plan_and_validation(make_stack: MakeStack, tmp_path: Path) -> None:
    """`chaos plan` shows the partition and its blast radius; an unknown edge is one clear line, exit 2."""
    stack, _, _ = edge_stack(make_stack)
    assert stack.source is not None
    good = write_experiment(tmp_path / "good.yaml", _partition_doc({"between": ["web", "catalog"]}))
    shown = cli(stack.source, "chaos", "plan", str(good))
    assert shown.returncode == 0, shown.stderr
    assert "partition" in shown.stdout
    assert "blast radius: catalog, catalog->web, web, web->catalog" in shown.stdout
    bad = write_experiment(tmp_path / "bad.yaml", _partition_doc({"edges": ["web->db"]}))
    failed = cli(stack.source, "chaos", "validate", str(bad))
    assert failed.returncode == 2
    assert "method step 1: partition fault: the stack declares no edge 'web->db'" in failed.stderr
    assert "Traceback" not in failed.stderr
    malformed = write_experiment(tmp_path / "malformed.yaml", _partition_doc({"edges": ["web"]}))
    failed = cli(stack.source, "chaos", "validate", str(malformed))
    assert failed.returncode == 2
    assert f"{malformed}: method.0.fault: Value error, invalid edge 'web'" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_chaos_restore_heals_the_partition_of_a_killed_runner(make_stack: MakeStack, tmp_path: Path) -> None:
    """SIGKILL the runner while the partition holds: `chaos restore` heals every edge; twice is harmless."""
    stack, api, edges = edge_stack(make_stack)
    assert stack.source is not None
    doc = _partition_doc({"between": ["web", "catalog"]})
    doc["method"] = [doc["method"][0], {"pause": "20s"}]
    exp = write_experiment(tmp_path / "exp.yaml", doc)
    script = runner_script(tmp_path)
    rng = random.Random(5)
    for _ in range(2):
        runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(exp)])
        try:
            wait_for(lambda: len([n for n in toxic_names(api).values() if n]) == 2, what="both edges cut")
            time.sleep(rng.uniform(0.0, 0.5))
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
        assert fetch(edges["web->catalog"]) == "refused"
        first = restore_pending(stack)
        assert first.ok, first.to_dict()
        assert [o.entry.kind for o in first.outcomes] == ["partition"]
        assert all(names == [] for names in toxic_names(api).values())
        assert fetch(edges["web->catalog"]) == fetch(edges["catalog->web"]) == "ok"
        assert restore_pending(stack).outcomes == []
