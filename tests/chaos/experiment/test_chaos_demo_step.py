"""The demo's chaos step on the demo stack, through the fault proxy its supervisor hosts."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from _helpers import run_cli
from seawall.chaos.experiment import list_runs, plan_experiment
from seawall.chaos.experiment.presets import latency_experiment
from seawall.chaos.faults.base import DEFAULT_PROXY_API
from seawall.chaos.faults.network import call_api
from seawall.config import StackConfig, load_stack
from seawall.demo import write_demo
from seawall.drill.demo import CHAOS_MS, latency_step
from seawall.ops.lifecycle import down, up
from seawall.runtime import get_runtime, shutdown
from seawall.store import open_store

pytestmark = pytest.mark.integration


@pytest.fixture
def demo_stack(tmp_path: Path) -> Iterator[StackConfig]:
    """The demo stack, up, in tmp_path; brought down (and anything left of it killed) afterwards."""
    config = write_demo(tmp_path)
    stack = load_stack(config)
    try:
        up(stack, get_runtime(stack))
        yield stack
    finally:
        with contextlib.suppress(Exception):
            down(stack, get_runtime(stack))
        with contextlib.suppress(Exception):
            shutdown(stack)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                cmdline = proc.info["cmdline"] or []
                daemon = "seawall.runtime._daemon" in cmdline and str(config) in cmdline
                component = "seawall.demo.services" in cmdline and Path(proc.cwd()) == tmp_path
                if (daemon or component) and proc.pid != os.getpid():
                    proc.kill()


def stack_api(stack: StackConfig) -> str:
    api: str = json.loads((stack.state_dir / "proxy.json").read_text())["api"]
    return api


def toxics(api: str) -> list[Any]:
    status, body = call_api(api, "GET", "/proxies/web_to_catalog/toxics")
    assert status == 200
    return list(body)


def test_an_experiment_without_proxy_api_uses_the_stacks_proxy(demo_stack: StackConfig) -> None:
    api = stack_api(demo_stack)
    assert api != DEFAULT_PROXY_API
    plan = plan_experiment(latency_experiment("web->catalog", ["web.ready"]), demo_stack)
    assert plan.proxy_api == api
    assert plan.faults[0].fault.inverse().to_dict()["api"] == api
    explicit = latency_experiment("web->catalog", ["web.ready"], proxy_api="http://127.0.0.1:9")
    assert plan_experiment(explicit, demo_stack).proxy_api == "http://127.0.0.1:9"


def test_chaos_restore_removes_a_toxic_left_on_the_stacks_proxy(
    demo_stack: StackConfig, tmp_path: Path
) -> None:
    """A gameday injection (its process gone) is undone by `chaos restore` through the recorded API."""
    api = stack_api(demo_stack)
    assert demo_stack.source is not None
    config = str(demo_stack.source)
    exp = tmp_path / "slow.yaml"
    exp.write_text(
        yaml.safe_dump(
            {
                "title": "slow catalog",
                "targets": ["web->catalog"],
                "method": [{"fault": {"kind": "latency", "edge": "web->catalog", "ms": 300}}],
            }
        )
    )
    injected = run_cli(tmp_path, "-f", config, "chaos", "inject", str(exp), "--json")
    assert injected.returncode == 0, injected.stderr
    assert [t["attributes"]["latency"] for t in toxics(api)] == [300]

    restored = run_cli(tmp_path, "-f", config, "chaos", "restore", "--json")
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert [r["inverse"]["api"] for r in report["restored"]] == [api]
    assert toxics(api) == []
    again = run_cli(tmp_path, "-f", config, "chaos", "restore", "--json")
    assert json.loads(again.stdout)["restored"] == []


def test_the_demo_latency_step_deviates_then_recovers(demo_stack: StackConfig) -> None:
    messages: list[str] = []
    ok, detail, figures = latency_step(demo_stack, get_runtime, messages.append)
    assert ok, (detail, messages)
    assert figures is not None
    assert figures.status == "deviated"
    assert figures.latency_ms == CHAOS_MS
    assert (figures.time_to_impact or 0.0) > 0
    assert figures.after_removal is not None
    assert (figures.mttr or 0.0) > 0
    assert toxics(stack_api(demo_stack)) == []
    with open_store(demo_stack.state_dir) as store:
        assert [r.id for r in list_runs(store)] == [figures.run_id]
