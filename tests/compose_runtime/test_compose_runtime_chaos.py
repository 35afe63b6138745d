"""Network faults on a compose edge, on a real engine: the caller routed through the host-side fault proxy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from compose_runtime_support import MakeProject

from seawall.chaos.compose_edges import OVERRIDE_DIR, STATE_FILE
from seawall.chaos.experiment import Experiment, run_experiment
from seawall.chaos.faults import FaultContext, ProxyToxic
from seawall.chaos.faults.base import resolve_proxy_api
from seawall.chaos.faults.network import call_api
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import inject, restore_pending, restore_run
from seawall.config import StackConfig
from seawall.runtime import ComposeRuntime

pytestmark = [pytest.mark.engine, pytest.mark.integration]

LATENCY_MS = 500
TICK = 0.01  # busybox `time -f %e` prints elapsed seconds truncated to centiseconds
FETCHES = 3
# the caller fetches its callee at the address in CALLEE_URL, timed inside its container (the exec's
# own overhead varies by more than the tick); wget and time are called through busybox
FETCH = (
    f"for i in $(seq {FETCHES}); do "
    '/bin/busybox time -f %e /bin/busybox wget -q -O- "$CALLEE_URL" || exit 1; done'
)
STACK = """
services:
  callee:
    image: {image}
    command: [sh, -c, "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
  caller:
    image: {image}
    command: [sleep, "3600"]
    environment:
      CALLEE_URL: http://callee:80/
    stop_grace_period: 1s
"""

# wget's own -T crashes this static busybox (exit 139), so busybox timeout bounds the fetch
TIMED_FETCH = '/bin/busybox timeout 1 /bin/busybox wget -q -O- "$CALLEE_URL" >/dev/null'

Project = Callable[[], tuple[StackConfig, ComposeRuntime]]


def _state(stack: StackConfig) -> dict[str, object]:
    path = stack.state_dir / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _proxy_pid(stack: StackConfig) -> int | None:
    proxy = _state(stack).get("proxy")
    return int(proxy["pid"]) if isinstance(proxy, dict) else None


@pytest.fixture
def edge_stack(compose_project: MakeProject) -> Iterator[Project]:
    """A callee serving a page and a caller that reaches it through CALLEE_URL; all faults undone after."""
    made: list[StackConfig] = []

    def make() -> tuple[StackConfig, ComposeRuntime]:
        stack, runtime = compose_project(STACK)
        made.append(stack)
        runtime.start(["callee", "caller"])
        return stack, runtime

    yield make
    for stack in made:
        # before compose_project's `down`: pending inverses (the route included), then the proxy process
        restore_pending(stack, include_live=True)
        pid = _proxy_pid(stack)
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)


def fetch_times(runtime: ComposeRuntime) -> list[float]:
    """Seconds each of FETCHES fetches of its callee takes the caller, measured in its container."""
    done = runtime.exec("caller", ["sh", "-c", FETCH])
    assert (done.exit_code, done.stdout) == (0, b"hello\n" * FETCHES), done.stderr
    return [float(line) for line in done.stderr.decode().split()]


def caller_env(runtime: ComposeRuntime) -> str:
    done = runtime.exec("caller", ["sh", "-c", 'echo "$CALLEE_URL"'])
    return done.stdout.decode().strip()


def latency_fault(stack: StackConfig) -> ProxyToxic:
    api = resolve_proxy_api(None, stack)  # what a planned run writes into the fault and its inverse
    return ProxyToxic(
        uuid.uuid4().hex[:12], "latency", "caller->callee", {"latency": LATENCY_MS}, api=api, ttl=120
    )


def assert_unrouted(stack: StackConfig, runtime: ComposeRuntime) -> None:
    """The caller reaches the callee directly again, and nothing of the route is left."""
    assert caller_env(runtime) == "http://callee:80/"
    assert not list((stack.state_dir / OVERRIDE_DIR).glob("*.yaml"))
    assert _state(stack).get("routes") == {}
    assert _proxy_pid(stack) is None


def test_a_latency_fault_on_an_edge(edge_stack: Project) -> None:
    """500 ms on caller->callee: the caller is routed through the proxy and every fetch is >= 0.5 s
    slower (to the clock's tick); after the inverse the caller is recreated without the override and
    is fast again."""
    stack, runtime = edge_stack()
    assert stack.components["caller"].edges == {"callee": "CALLEE_URL"}
    baseline = min(fetch_times(runtime))
    fault = latency_fault(stack)
    ctx = FaultContext(stack, lambda s: runtime)
    with Ledger(stack.state_dir) as ledger:
        detail = inject(ledger, "run-1", fault, ctx)
        route = _state(stack)["routes"]["caller_to_callee"]  # type: ignore[index]
        assert f"CALLEE_URL=http://{route['listen']}/" in detail
        assert caller_env(runtime) == f"http://{route['listen']}/"
        assert not route["listen"].startswith("127.")  # the host's address on the project's network
        slowed = fetch_times(runtime)
        assert min(slowed) - baseline >= LATENCY_MS / 1000 - TICK, (baseline, slowed)
        report = restore_run(ledger, "run-1", ctx)
    assert report.ok, report.to_dict()
    assert_unrouted(stack, runtime)
    assert max(fetch_times(runtime)) < baseline + LATENCY_MS / 1000


CRASHING_RUNNER = """
import sys, time
from seawall.chaos.faults import FaultContext, ProxyToxic
from seawall.chaos.faults.base import resolve_proxy_api
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import inject
from seawall.runtime import ComposeRuntime, stack_from_compose

stack = stack_from_compose(__import__("pathlib").Path(sys.argv[1]))
api = resolve_proxy_api(None, stack)
fault = ProxyToxic("crash1", "latency", "caller->callee", {"latency": 500}, api=api, ttl=120)
with Ledger(stack.state_dir) as ledger:
    inject(ledger, "run-crash", fault, FaultContext(stack, ComposeRuntime))
print("injected", flush=True)
time.sleep(600)
"""


def test_restore_after_a_killed_runner_takes_the_route_and_the_toxic_out(edge_stack: Project) -> None:
    """A runner SIGKILLed with the fault applied: `restore_pending` recreates the caller without the
    override, and no toxic and no proxy remain; a second restore finds nothing to do."""
    stack, runtime = edge_stack()
    runner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_RUNNER), str(stack.source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()
        assert line == b"injected\n", runner.stderr.read() if runner.stderr else b""
    finally:
        runner.kill()
        runner.wait()
        for stream in (runner.stdout, runner.stderr):
            if stream is not None:
                stream.close()
    api = resolve_proxy_api(None, stack)
    # the proxy outlives its runner: the edge keeps working (slowly) until the restore
    status, toxics = call_api(api, "GET", "/proxies/caller_to_callee/toxics")
    assert (status, [t["name"] for t in toxics]) == (200, ["seawall-crash1"])
    listen = _state(stack)["routes"]["caller_to_callee"]["listen"]  # type: ignore[index]
    assert caller_env(runtime) == f"http://{listen}/"
    proxy_pid = _proxy_pid(stack)
    assert proxy_pid is not None

    report = restore_pending(stack)
    assert report.ok, report.to_dict()
    assert [o.entry.id for o in report.outcomes] == ["crash1"]
    assert_unrouted(stack, runtime)
    assert not psutil.pid_exists(proxy_pid) or psutil.Process(proxy_pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(ConnectionRefusedError):
        call_api(api, "GET", "/proxies")  # no proxy, so no toxic
    again = restore_pending(stack)
    assert (again.outcomes, again.skipped) == ([], [])
    assert max(fetch_times(runtime)) < LATENCY_MS / 1000


def test_two_faults_on_one_edge_share_its_route(edge_stack: Project) -> None:
    """The route stays while any fault on the edge holds it; the last inverse takes it out."""
    stack, runtime = edge_stack()
    first, second = latency_fault(stack), latency_fault(stack)
    ctx = FaultContext(stack, lambda s: runtime)
    with Ledger(stack.state_dir) as ledger:
        inject(ledger, "run-a", first, ctx)
        routed = caller_env(runtime)
        inject(ledger, "run-b", second, ctx)
        assert caller_env(runtime) == routed  # not recreated again
        assert restore_run(ledger, "run-a", ctx).ok
        assert caller_env(runtime) == routed
        api = resolve_proxy_api(None, stack)
        status, toxics = call_api(api, "GET", "/proxies/caller_to_callee/toxics")
        assert (status, [t["name"] for t in toxics]) == (200, [second.toxic_name])
        assert restore_run(ledger, "run-b", ctx).ok
    assert_unrouted(stack, runtime)


def test_the_override_file_is_what_compose_merges(edge_stack: Project) -> None:
    """While routed, the override under the state dir sets only the caller's edge variable."""
    stack, runtime = edge_stack()
    fault = latency_fault(stack)
    ctx = FaultContext(stack, lambda s: runtime)
    with Ledger(stack.state_dir) as ledger:
        inject(ledger, "run-o", fault, ctx)
        (override,) = (stack.state_dir / OVERRIDE_DIR).glob("*.yaml")
        body = json.loads("".join(override.read_text().splitlines(keepends=True)[1:]))
        listen = _state(stack)["routes"]["caller_to_callee"]["listen"]  # type: ignore[index]
        assert body == {"services": {"caller": {"environment": {"CALLEE_URL": f"http://{listen}/"}}}}
        assert Path(override).name == "caller_to_callee.yaml"
        assert restore_run(ledger, "run-o", ctx).ok
    assert_unrouted(stack, runtime)


def test_an_experiment_applies_and_removes_the_route(edge_stack: Project) -> None:
    """`run_experiment` with a latency fault on the compose edge: the caller's fetch (1 s time limit)
    breaks under 2 s of latency, the run deviates, and afterwards nothing is routed or pending."""
    stack, runtime = edge_stack()
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is needed to exec the steady-state probe in the caller")
    container = str(next(c["Name"] for c in runtime.cli.ps() if c["Service"] == "caller"))
    fetch = ["exec", container, "sh", "-c", TIMED_FETCH]
    experiment = Experiment.model_validate(
        {
            "title": "2 s on caller->callee",
            "targets": ["caller->callee"],
            "steady_state": {
                "probes": [
                    {
                        "name": "caller fetches",
                        "provider": {"type": "process", "path": docker, "arguments": fetch, "timeout": 10},
                    }
                ]
            },
            "method": [{"fault": {"kind": "latency", "edge": "caller->callee", "ms": 2000, "duration": 4}}],
            "runtime": {"probe_interval": 0.5, "sustained": 2, "recovery_timeout": 60},
        }
    )
    record = run_experiment(experiment, stack, runtime_factory=lambda s: runtime, handle_signals=False)
    assert record.status.value == "deviated", [r.to_journal() for r in record.before]
    assert len(record.faults) == 1, [r.to_journal() for r in record.before]
    (fault,) = record.faults
    assert "caller recreated with CALLEE_URL=http://" in fault.detail
    assert "caller recreated with CALLEE_URL=http://callee:80/" in fault.removal
    assert_unrouted(stack, runtime)
    with Ledger(stack.state_dir) as ledger:
        assert ledger.pending() == []
