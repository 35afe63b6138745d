"""The local runtime against real processes: supervision, restart policy, limits, daemon lifecycle."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from _helpers import free_port, kill_tagged, write_stack
from _helpers import wait_for as shared_wait_for
from seawall.config import StackConfig, load_stack
from seawall.errors import RuntimeDriverError
from seawall.runtime import ComponentStatus, LocalRuntime, daemon_pid, ensure_daemon, get_runtime
from seawall.runtime._limits import _own_cgroup
from seawall.runtime.local import shutdown_daemon
from seawall.store import open_store

pytestmark = pytest.mark.integration

PY = sys.executable
SLEEPER = [PY, "-u", "-c", "import time; print('up', flush=True); time.sleep(600)"]
IGNORES_TERM = [
    PY,
    "-u",
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(600)",
]
FAST = {"initial": "50ms", "max": "200ms"}

MakeStack = Callable[..., StackConfig]


wait_for = functools.partial(shared_wait_for, timeout=15.0)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _cleanup(tag: str, config: Path, stack: StackConfig) -> None:
    """Stop the daemon, then SIGKILL whatever is left of it and of the components; drop cgroups."""
    with contextlib.suppress(Exception):
        shutdown_daemon(stack, timeout=15)
    kill_tagged(tag, config)
    for controller in ("memory", "cpu"):
        base = _own_cgroup(controller)
        for directory in base.glob(f"seawall.{stack.stack}.*") if base else ():
            with contextlib.suppress(OSError):
                directory.rmdir()


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[MakeStack]:
    """Write seawall.yaml into tmp_path and load it; everything it starts is stopped afterwards."""
    tag = uuid.uuid4().hex
    name = f"t{tag[:8]}"
    made: list[tuple[Path, StackConfig]] = []

    def make(components: dict[str, dict[str, Any]]) -> StackConfig:
        config, stack = write_stack(tmp_path, name, components, tag)
        made.append((config, stack))
        return stack

    yield make
    for config, stack in made:
        _cleanup(tag, config, stack)


def one(rt: LocalRuntime, name: str) -> ComponentStatus:
    return rt.status([name])[0]


def started_under_daemon(stack: StackConfig) -> tuple[LocalRuntime, int, int]:
    """Start component ``app``; the runtime, the child's pid and the supervisor daemon's pid."""
    rt = LocalRuntime(stack)
    rt.start(["app"])
    child = one(rt, "app").pid
    daemon = daemon_pid(stack)
    assert child is not None
    assert daemon is not None
    return rt, child, daemon


def events(stack: StackConfig, kind: str) -> list[Any]:
    with open_store(stack.state_dir) as store:
        return store.events(kinds=[kind])


def test_runtime_start_is_idempotent_and_stop_stops(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    rt = LocalRuntime(stack)
    rt.start(["app"])
    first = one(rt, "app")
    assert first.state == "running"
    assert first.pid is not None
    rt.start(["app"])
    assert one(rt, "app").pid == first.pid
    rt.stop(["app"])
    after = one(rt, "app")
    assert after.state == "stopped"
    assert after.pid is None
    assert gone(first.pid)
    wait_for(lambda: len(events(stack, "stop")) == 1, what="stop event")
    assert len(events(stack, "start")) == 1


def test_runtime_process_outlives_the_client(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    rt = get_runtime(stack)
    rt.start(["app"])
    pid = rt.status(["app"])[0].pid
    rt.close()
    again = LocalRuntime(load_stack(stack.source))
    assert one(again, "app").pid == pid
    assert one(again, "app").state == "running"


def test_runtime_concurrent_clients_start_one_daemon_and_one_process(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    errors: list[BaseException] = []

    def start() -> None:
        try:
            LocalRuntime(stack).start(["app"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert one(LocalRuntime(stack), "app").state == "running"
    wait_for(lambda: events(stack, "start"), what="start event")
    assert len(events(stack, "start")) == 1
    assert len(events(stack, "supervisor_start")) == 1


def test_runtime_sigkill_is_restarted_with_backoff(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER, "restart": {"backoff": {"initial": "300ms"}}}})
    rt = LocalRuntime(stack)
    rt.start(["app"])
    before = one(rt, "app")
    assert before.pid is not None
    rt.kill("app", signal.SIGKILL)
    waiting = wait_for(lambda: (s := one(rt, "app")).state == "backoff" and s, what="backoff")
    assert "0.3s" in waiting.detail
    after = wait_for(lambda: (s := one(rt, "app")).state == "running" and s.pid != before.pid and s)
    assert after.restart_count == 1
    assert after.last_exit_code == -9
    log = list(rt.logs("app"))
    assert any("seawall: restarting in 0.3s" in line for line in log)
    assert any(f"seawall: started pid {after.pid}" in line for line in log)
    wait_for(lambda: events(stack, "policy_restart"), what="policy_restart event")


def test_runtime_policy_no_leaves_it_exited(make_stack: MakeStack) -> None:
    stack = make_stack({"job": {"command": [PY, "-c", "raise SystemExit(3)"], "restart": "no"}})
    rt = LocalRuntime(stack)
    rt.start(["job"])
    status = wait_for(lambda: (s := one(rt, "job")).state == "exited" and s, what="exited")
    assert status.last_exit_code == 3
    assert status.restart_count == 0


def test_runtime_exhausted_retries_end_exited(make_stack: MakeStack) -> None:
    restart = {"policy": "on-failure", "max_retries": 2, "backoff": FAST}
    stack = make_stack({"crash": {"command": [PY, "-c", "raise SystemExit(7)"], "restart": restart}})
    rt = LocalRuntime(stack)
    rt.start(["crash"])
    status = wait_for(lambda: (s := one(rt, "crash")).state == "exited" and s, what="exited")
    assert status.restart_count == 2
    assert status.last_exit_code == 7
    assert "gave up after 2 restarts" in status.detail
    wait_for(lambda: events(stack, "retries_exhausted"), what="retries_exhausted event")


def test_runtime_one_shot_exit_zero_is_completed(make_stack: MakeStack) -> None:
    stack = make_stack({"migrate": {"command": [PY, "-c", "print('done')"], "one_shot": True}})
    rt = LocalRuntime(stack)
    rt.start(["migrate"])
    status = wait_for(lambda: (s := one(rt, "migrate")).state == "completed" and s, what="completed")
    assert status.last_exit_code == 0


def test_runtime_stop_escalates_to_sigkill_after_grace(make_stack: MakeStack) -> None:
    stack = make_stack({"stubborn": {"command": IGNORES_TERM, "stop_grace": "500ms"}})
    rt = LocalRuntime(stack)
    rt.start(["stubborn"])
    wait_for(lambda: "ready" in list(rt.logs("stubborn")), what="SIGTERM ignored")
    pid = one(rt, "stubborn").pid
    began = time.monotonic()
    rt.stop(["stubborn"])
    took = time.monotonic() - began
    status = one(rt, "stubborn")
    assert status.state == "stopped"
    assert status.last_exit_code == -9
    assert 0.5 <= took < 10.0
    assert pid is not None
    assert gone(pid)


def test_runtime_pause_and_resume(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    rt = LocalRuntime(stack)
    rt.start(["app"])
    pid = one(rt, "app").pid
    assert pid is not None
    rt.pause("app")
    assert one(rt, "app").state == "paused"
    wait_for(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED, what="SIGSTOP")
    rt.resume("app")
    assert one(rt, "app").state == "running"
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED


def test_runtime_restart_replaces_the_process_and_counts(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    rt = LocalRuntime(stack)
    rt.start(["app"])
    before = one(rt, "app")
    rt.restart("app")
    after = one(rt, "app")
    assert after.state == "running"
    assert after.pid != before.pid
    assert after.restart_count == 1


def test_runtime_logs_tail_and_follow(make_stack: MakeStack) -> None:
    ticker = [PY, "-u", "-c", "import time\nfor i in range(1000):\n print('line', i)\n time.sleep(0.05)"]
    stack = make_stack({"ticker": {"command": ticker}})
    rt = LocalRuntime(stack)
    rt.start(["ticker"])
    wait_for(lambda: len(list(rt.logs("ticker"))) > 5, what="some output")
    tail = list(rt.logs("ticker", tail=2))
    assert len(tail) == 2
    assert all(line.startswith("line ") for line in tail)
    follow = rt.logs("ticker", tail=0, follow=True)
    fresh = [next(follow) for _ in range(3)]
    follow.close()  # type: ignore[attr-defined]
    numbers = [int(line.split()[1]) for line in fresh]
    assert numbers == sorted(numbers)
    assert numbers[0] > int(tail[-1].split()[1])


def test_runtime_command_not_found_is_a_clear_error(make_stack: MakeStack) -> None:
    stack = make_stack({"ok": {"command": SLEEPER}, "bad": {"command": ["no-such-program-seawall"]}})
    rt = LocalRuntime(stack)
    with pytest.raises(RuntimeDriverError, match=r"'bad'.*command not found: no-such-program-seawall"):
        rt.start(["ok", "bad"])
    bad, ok = one(rt, "bad"), one(rt, "ok")
    assert bad.state == "failed"
    assert "command not found: no-such-program-seawall" in bad.detail
    assert ok.state == "running"


def test_runtime_missing_cwd_is_a_clear_error(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER, "cwd": "nowhere"}})
    with pytest.raises(RuntimeDriverError, match="working directory not found"):
        LocalRuntime(stack).start(["app"])
    assert daemon_pid(stack) is None  # nothing startable: no daemon was spawned for it


def test_runtime_memory_limit_is_enforced(make_stack: MakeStack) -> None:
    hog = [PY, "-c", "import time; b = b'x' * (512 << 20); time.sleep(30)"]
    stack = make_stack({"hog": {"command": hog, "restart": "no", "resources": {"memory": "64Mi"}}})
    rt = LocalRuntime(stack)
    rt.start(["hog"])
    status = wait_for(lambda: (s := one(rt, "hog")).state == "exited" and s, what="the hog to die")
    assert status.last_exit_code not in (0, None)
    memory = next(lim for lim in status.limits if lim.name == "memory")
    assert memory.enforced


def test_runtime_open_files_limit_is_enforced(make_stack: MakeStack) -> None:
    check = [PY, "-c", "import resource; raise SystemExit(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"]
    stack = make_stack({"fd": {"command": check, "restart": "no", "resources": {"open_files": 42}}})
    rt = LocalRuntime(stack)
    rt.start(["fd"])
    status = wait_for(lambda: (s := one(rt, "fd")).state == "exited" and s, what="exit")
    assert status.last_exit_code == 42


def test_runtime_status_without_daemon_starts_nothing(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    statuses = LocalRuntime(stack).status()
    assert [s.state for s in statuses] == ["unknown"]
    assert daemon_pid(stack) is None
    assert not (stack.state_dir / "supervisor.pid").exists()


def test_runtime_daemon_sigterm_stops_children(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    rt, child, daemon = started_under_daemon(stack)
    os.kill(daemon, signal.SIGTERM)
    wait_for(lambda: gone(daemon), what="daemon exit")
    assert gone(child)
    assert not (stack.state_dir / "supervisor.sock").exists()
    assert not (stack.state_dir / "supervisor.pid").exists()
    assert events(stack, "supervisor_stop")
    assert one(rt, "app").state == "stopped"


def test_runtime_daemon_sigkill_leaves_children_and_a_new_daemon_adopts(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER, "restart": {"backoff": FAST}}})
    rt, child, daemon = started_under_daemon(stack)
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: gone(daemon), what="daemon death")
    assert not gone(child)
    orphan = one(rt, "app")
    assert (orphan.state, orphan.pid) == ("running", child)  # seen without a daemon
    ensure_daemon(stack)  # stale socket and pidfile are left behind; a new daemon copes
    adopted = one(rt, "app")
    assert (adopted.state, adopted.pid) == ("running", child)
    rt.kill("app", signal.SIGKILL)  # the new daemon cannot waitpid it, yet notices and restarts it
    after = wait_for(lambda: (s := one(rt, "app")).state == "running" and s.pid != child and s)
    assert after.restart_count == 1
    rt.stop(["app"])
    assert one(rt, "app").state == "stopped"


def test_runtime_stale_pidfile_and_socket_are_ignored(make_stack: MakeStack) -> None:
    stack = make_stack({"app": {"command": SLEEPER}})
    stack.state_dir.mkdir(parents=True)
    (stack.state_dir / "supervisor.pid").write_text("999999\n")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(stack.state_dir / "supervisor.sock"))
    stale.close()  # the file stays, nobody listens
    rt = LocalRuntime(stack)
    assert one(rt, "app").state == "unknown"
    rt.start(["app"])
    assert one(rt, "app").state == "running"
    pid = daemon_pid(stack)
    assert (stack.state_dir / "supervisor.pid").read_text().strip() == str(pid)


def test_runtime_shutdown_daemon_stops_everything(make_stack: MakeStack) -> None:
    stack = make_stack({"a": {"command": SLEEPER}, "b": {"command": SLEEPER, "depends_on": ["a"]}})
    rt = LocalRuntime(stack)
    rt.start(["a", "b"])
    pids = [s.pid for s in rt.status()]
    assert shutdown_daemon(stack)
    assert all(p is not None and gone(p) for p in pids)
    assert daemon_pid(stack) is None
    assert not shutdown_daemon(stack)


def _has_run_probe() -> bool:
    import seawall.probes

    return hasattr(seawall.probes, "run_probe")


@pytest.mark.skipif(not _has_run_probe(), reason="seawall.probes.run_probe is not there yet")
def test_runtime_liveness_failures_restart_and_probe_samples_are_stored(make_stack: MakeStack) -> None:
    port = free_port()
    server = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    probes = {
        "ready": {"tcp": port, "period": "100ms", "timeout": "500ms"},
        "live": {
            "http": f"http://127.0.0.1:{port}/missing",
            "period": "100ms",
            "timeout": "500ms",
            "initial_delay": "300ms",
            "failure_threshold": 2,
        },
    }
    restart = {"policy": "on-failure", "backoff": FAST}
    stack = make_stack({"web": {"command": server, "probes": probes, "restart": restart, "stop_grace": "2s"}})
    rt = LocalRuntime(stack)
    rt.start(["web"])
    first = one(rt, "web").pid
    wait_for(lambda: events(stack, "liveness_restart"), what="liveness restart")
    wait_for(lambda: (s := one(rt, "web")).restart_count >= 1 and s.pid != first, what="restart")
    with open_store(stack.state_dir) as store:
        samples = wait_for(lambda: store.samples(component="web", role="live"), what="live samples")
        assert all(s.status == "fail" for s in samples)
        wait_for(lambda: store.samples(component="web", role="ready"), what="ready samples")


def test_up_waits_on_a_wave_of_components_run_elsewhere_and_starts_the_next(make_stack: MakeStack) -> None:
    """A wave with only command-less components starts nothing: start(()) would mean every component."""
    from seawall.ops.lifecycle import up

    stack = make_stack({"db": {}, "app": {"command": SLEEPER, "depends_on": ["db"]}})
    report = up(stack, LocalRuntime(stack))
    assert [(o.component, o.action) for o in report.outcomes] == [("db", "started"), ("app", "started")]
    assert one(LocalRuntime(stack), "app").alive
