"""The compose runtime on a real engine (Podman serving the Docker API, driven by Docker Compose v2)."""

from __future__ import annotations

import asyncio
import functools
import signal
import time
import urllib.request

import pytest
from compose_runtime_support import Engine, MakeProject, free_port

from _helpers import wait_for as shared_wait_for
from seawall.config import format_size
from seawall.drill import measure_recovery
from seawall.errors import DaemonUnavailable, RuntimeDriverError, UsageError
from seawall.ops.lifecycle import down, up
from seawall.runtime import ComponentStatus, ComposeRuntime, get_runtime, shutdown
from seawall.runtime.compose_volumes import volume_sizes

pytestmark = [pytest.mark.engine, pytest.mark.integration]

# httpd serving /www with one page; `-f` keeps it in the foreground as the container's main process
HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"


wait_for = functools.partial(shared_wait_for, interval=0.1)


def fetch(port: int, timeout: float = 2.0) -> str | None:
    """The page on a published port, or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
            return str(response.read().decode().strip())
    except OSError:
        return None


def one(runtime: ComposeRuntime, name: str) -> ComponentStatus:
    return runtime.status([name])[0]


def web_service(port: int, text: str = "hello", restart: str = "always", extra: str = "") -> str:
    return f"""
  web:
    image: {{image}}
    command: [sh, -c, "{HTTPD.format(text=text)}"]
    ports: ["127.0.0.1:{port}:80"]
    restart: {restart}
    stop_grace_period: 1s
{extra}"""


def test_up_starts_dependencies_first_gated_on_their_readiness(compose_project: MakeProject) -> None:
    """`up` starts db, waits for its probe (ready 2s after start), and only then starts web."""
    db_port, web_port = free_port(), free_port()
    stack, runtime = compose_project(f"""
services:
  db:
    image: {{image}}
    command: [sh, -c, "sleep 2; {HTTPD.format(text="db")}"]
    ports: ["127.0.0.1:{db_port}:80"]
    stop_grace_period: 1s
{web_service(web_port, extra="    depends_on: [db]")}
""")
    assert stack.runtime == "compose"
    assert stack.components["web"].probes.ready is not None
    report = up(stack, runtime)
    assert [o.component for o in report.outcomes] == ["db", "web"]
    assert [o.action for o in report.outcomes] == ["started", "started"]
    db, web = runtime.status(["db", "web"])
    assert db.state == web.state == "running"
    assert db.started_at is not None
    assert web.started_at is not None
    assert web.started_at - db.started_at >= 1.8  # web waited for db's httpd, not just its container
    assert fetch(web_port) == "hello"
    assert fetch(db_port) == "db"


def test_up_again_is_idempotent(compose_project: MakeProject) -> None:
    """A second `up` leaves running containers alone: same pids, nothing restarted."""
    stack, runtime = compose_project("services:" + web_service(free_port()))
    up(stack, runtime)
    before = one(runtime, "web")
    again = up(stack, runtime)
    assert [(o.component, o.action) for o in again.outcomes] == [("web", "already running")]
    runtime.start(["web"])  # the driver itself is idempotent too
    after = one(runtime, "web")
    assert (after.pid, after.restart_count, after.extra["id"]) == (before.pid, 0, before.extra["id"])


@pytest.mark.parametrize("restart", ["always", "on-failure"])
def test_kill_9_is_recovered_by_the_restart_policy_and_the_mttr_measured(
    compose_project: MakeProject, restart: str
) -> None:
    """SIGKILL acts like a crash: the engine's restart policy restarts the container; MTTR is measured."""
    port = free_port()
    stack, runtime = compose_project("services:" + web_service(port, restart=restart))
    up(stack, runtime)
    before = one(runtime, "web")
    mttr, detail = asyncio.run(measure_recovery(stack, runtime, "web", signal.SIGKILL, timeout=30.0))
    after = one(runtime, "web")
    assert 0 < mttr < 15.0, detail
    assert after.state == "running"
    assert after.pid not in (None, before.pid)
    assert after.restart_count == before.restart_count + 1
    assert after.last_exit_code is None  # the engine resets it on restart
    assert fetch(port) == "hello"


def test_kill_without_restart_policy_leaves_it_exited(compose_project: MakeProject) -> None:
    """With `restart: "no"` a killed container stays down and says how it died."""
    stack, runtime = compose_project("services:" + web_service(free_port(), restart='"no"'))
    up(stack, runtime)
    runtime.kill("web", signal.SIGKILL)
    status = wait_for(lambda: (s := one(runtime, "web")).state == "exited" and s, what="exit")
    assert status.last_exit_code == -signal.SIGKILL
    assert status.pid is None
    assert "exit code 137" in status.detail


def test_pause_and_resume(compose_project: MakeProject) -> None:
    """A paused container stops answering; unpaused, it answers again with the same process."""
    port = free_port()
    stack, runtime = compose_project("services:" + web_service(port))
    up(stack, runtime)
    pid = one(runtime, "web").pid
    runtime.pause("web")
    assert one(runtime, "web").state == "paused"
    assert fetch(port, timeout=1.0) is None
    runtime.resume("web")
    assert one(runtime, "web").state == "running"
    assert fetch(port) == "hello"
    assert one(runtime, "web").pid == pid


def test_down_keeps_named_volume_data(compose_project: MakeProject) -> None:
    """Data written into a named volume survives stop, `down` (without -v) and a new `up`."""
    stack, runtime = compose_project("""
services:
  store:
    image: {image}
    command: [sleep, "600"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
volumes:
  data:
""")
    up(stack, runtime)
    wrote = runtime.exec("store", ["sh", "-c", "cat > /data/kept.txt"], stdin=b"precious\n")
    assert wrote.exit_code == 0, wrote.stderr
    sizes = dict(volume_sizes(runtime.project))
    assert sizes[f"{runtime.project}_data"] >= len(b"precious\n")
    down(stack, runtime)
    assert one(runtime, "store").state in ("stopped", "exited")
    runtime.down()  # containers and network go; the named volume stays
    assert one(runtime, "store").state == "unknown"
    up(stack, runtime)
    read = runtime.exec("store", ["cat", "/data/kept.txt"])
    assert (read.exit_code, read.stdout) == (0, b"precious\n")


def test_status_fields_from_the_engine(compose_project: MakeProject) -> None:
    """Status carries pid, start time, restart count, the engine's limits, health and the container."""
    _stack, runtime = compose_project(
        "services:"
        + web_service(free_port(), extra="    mem_limit: 64m\n    cpus: 0.5\n")
        + """
  idle:
    image: {image}
    command: [sleep, "600"]
    healthcheck: {test: [CMD, "true"], interval: 1h}
  job:
    image: {image}
    command: [sh, -c, "echo done"]
    restart: "no"
"""
    )
    assert [s.state for s in runtime.status()] == ["unknown", "unknown", "unknown"]
    began = time.time()
    runtime.start(["web", "idle", "job"])
    web = one(runtime, "web")
    assert web.state == "running"
    assert web.pid
    assert web.pid > 0
    assert web.started_at is not None
    assert abs(web.started_at - began) < 30
    assert web.restart_count == 0
    assert web.last_exit_code is None
    limits = {lim.name: lim for lim in web.limits}
    assert limits["memory"].enforced
    assert limits["memory"].value == format_size(64 * 1024 * 1024)
    assert limits["cpus"].enforced
    assert limits["cpus"].value == "0.5"
    assert web.extra["restart_policy"] == "always"
    assert web.extra["container"]
    idle = one(runtime, "idle")
    assert idle.extra["health"] == "starting"  # Podman does not run healthchecks on a schedule
    job = wait_for(lambda: (s := one(runtime, "job")).state != "running" and s, what="job exit")
    assert (job.state, job.last_exit_code) == ("stopped", 0)
    runtime.stop(["web"], grace=1)
    assert one(runtime, "web").state in ("stopped", "exited")


def test_logs_tail_and_follow(compose_project: MakeProject) -> None:
    """`logs` gives the last N lines; following yields new lines until the caller stops."""
    _stack, runtime = compose_project("""
services:
  talker:
    image: {image}
    command: [sh, -c, "for i in 1 2 3 4 5; do echo line $$i; done; exec sleep 600"]
    stop_grace_period: 1s
""")
    runtime.start(["talker"])
    assert wait_for(lambda: list(runtime.logs("talker")) == [f"line {i}" for i in range(1, 6)], what="logs")
    assert list(runtime.logs("talker", tail=2)) == ["line 4", "line 5"]
    followed = runtime.logs("talker", tail=1, follow=True)
    assert next(iter(followed)) == "line 5"
    followed.close()  # type: ignore[attr-defined]  # a generator: closing ends `compose logs -f`


def test_exec_returns_output_and_exit_code(compose_project: MakeProject) -> None:
    """`exec` streams stdin in and returns stdout and the command's own exit code."""
    _stack, runtime = compose_project("""
services:
  box:
    image: {image}
    command: [sleep, "600"]
    stop_grace_period: 1s
""")
    runtime.start(["box"])
    echoed = runtime.exec("box", ["cat"], stdin=b"\x00binary\xff")
    assert (echoed.exit_code, echoed.stdout) == (0, b"\x00binary\xff")
    assert runtime.exec("box", ["sh", "-c", "exit 3"]).exit_code == 3
    with pytest.raises(UsageError):
        runtime.exec("nope", ["true"])
    runtime.stop(["box"], grace=0)
    with pytest.raises(RuntimeDriverError, match="not running"):
        runtime.exec("box", ["true"])


def test_restart_counts_and_registry(compose_project: MakeProject, engine: Engine) -> None:
    """`restart` gives a new process; the registry builds this runtime, and shutdown is a no-op."""
    stack, runtime = compose_project("services:" + web_service(free_port()))
    assert isinstance(get_runtime(stack), ComposeRuntime)
    assert runtime.available()[0], runtime.available()[1]
    runtime.start(["web"])
    pid = one(runtime, "web").pid
    runtime.restart("web")
    after = one(runtime, "web")
    assert after.state == "running"
    assert after.pid != pid
    assert shutdown(stack) is False
    assert one(runtime, "web").state == "running"


def test_unreachable_engine_is_reported(
    compose_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no engine at DOCKER_HOST, available() says so and commands raise DaemonUnavailable."""
    stack, _runtime = compose_project("services:" + web_service(free_port()))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/seawall-test.sock")
    broken = ComposeRuntime(stack)
    ok, why = broken.available()
    assert not ok
    assert why
    with pytest.raises(DaemonUnavailable):
        broken.status()
