"""Network faults through the real fault proxy: latency deviates and recovers; killed runners are restored."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaos_helpers import MakeStack, http_server, write_experiment

from _helpers import free_port, wait_for
from seawall.chaos.experiment import RunStatus, parse_experiment, run_experiment
from seawall.chaos.experiment.presets import latency_experiment
from seawall.chaos.faults.network import call_api
from seawall.chaos.proxy import ProxyService
from seawall.chaos.restore import restore_pending
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(make_stack: MakeStack) -> Iterator[dict[str, Any]]:
    """A catalog component, and a fault proxy (own thread and loop) with the edge web->catalog."""
    catalog_port, listen_port, api_port = free_port(), free_port(), free_port()
    caller_env = {"CATALOG_URL": f"http://127.0.0.1:{listen_port}/"}
    stack = make_stack(
        {
            "catalog": http_server(catalog_port),
            "web": {
                "command": [sys.executable, "-c", "import time; time.sleep(600)"],
                "env": caller_env,
                "edges": {"catalog": "CATALOG_URL"},
                # web's readiness is its call to catalog, through the edge
                "probes": {
                    "ready": {"http": caller_env["CATALOG_URL"], "period": "100ms", "timeout": "400ms"}
                },
            },
        }
    )
    service = ProxyService(
        port=api_port,
        proxies=[
            {
                "name": "web_to_catalog",
                "listen": f"127.0.0.1:{listen_port}",
                "upstream": f"127.0.0.1:{catalog_port}",
            }
        ],
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(service.startup(), loop).result(10)
    try:
        up(stack, get_runtime(stack))
        yield {"stack": stack, "api": f"http://127.0.0.1:{api_port}"}
    finally:
        asyncio.run_coroutine_threadsafe(service.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _toxics(api: str) -> list[Any]:
    status, body = call_api(api, "GET", "/proxies/web_to_catalog/toxics")
    assert status == 200
    return list(body)


def test_chaos_latency_on_an_edge_deviates_and_recovery_is_measured(proxy: dict[str, Any]) -> None:
    """The demo's step: 800 ms on web->catalog breaches web.ready; removed; recovery measured."""
    experiment = latency_experiment(
        "web->catalog",
        ["web.ready"],
        ms=800,
        duration=1.5,
        proxy_api=proxy["api"],
        probe_interval=0.1,
        sustained=2,
    )
    record = run_experiment(experiment, proxy["stack"], handle_signals=False)
    assert record.status is RunStatus.DEVIATED, record.notes
    recovery = record.faults[0].recoveries["web.ready"]
    assert recovery.time_to_impact is not None
    assert recovery.after_removal is not None
    assert recovery.recovered_ok
    assert _toxics(proxy["api"]) == []


def test_chaos_restore_removes_the_toxic_of_a_killed_runner(proxy: dict[str, Any], tmp_path: Path) -> None:
    stack = proxy["stack"]
    doc = {
        "title": "latency, killed",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "latency", "edge": "web->catalog", "ms": 800}}, {"pause": "10s"}],
        "runtime": {"proxy_api": proxy["api"]},
    }
    parse_experiment(doc)
    exp = write_experiment(tmp_path / "exp.yaml", doc)
    script = tmp_path / "runner.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\n"
        "from seawall.chaos.experiment import load_experiment, run_experiment\n"
        "from seawall.config import load_stack\n"
        "run_experiment(load_experiment(Path(sys.argv[2])), load_stack(Path(sys.argv[1])))\n"
    )
    assert stack.source is not None
    rng = random.Random(8)
    for _ in range(3):
        runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(exp)])
        try:
            wait_for(lambda: _toxics(proxy["api"]), what="the toxic")
            time.sleep(rng.uniform(0.0, 0.5))
        finally:
            runner.send_signal(signal.SIGKILL)
            runner.wait(timeout=10)
        assert [t["name"].startswith("seawall-") for t in _toxics(proxy["api"])] == [True]
        assert restore_pending(stack).ok
        assert _toxics(proxy["api"]) == []
        assert restore_pending(stack).outcomes == []
    assert yaml.safe_load(exp.read_text())["title"] == "latency, killed"
