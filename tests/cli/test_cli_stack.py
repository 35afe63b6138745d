"""End to end through the CLI on real local processes: up, status, health, verify, logs, kill, down."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _helpers import free_port, run_cli

pytestmark = pytest.mark.integration


def seawall(stack_dir: Path, *argv: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return run_cli(stack_dir, *argv, timeout=timeout)


def server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    if (tmp_path / "seawall.yaml").exists():
        seawall(tmp_path, "down")


def write_stack(stack_dir: Path, api_port: int, db_port: int, extra: str = "") -> None:
    (stack_dir / "seawall.yaml").write_text(
        json.dumps(
            {
                "stack": "clitest",
                "components": {
                    "db": {
                        "command": server(db_port),
                        "ports": [db_port],
                        "probes": {"ready": {"tcp": db_port, "period": "200ms"}},
                        "restart": {"policy": "on-failure", "backoff": {"initial": "100ms"}},
                    },
                    "api": {
                        "command": server(api_port),
                        "depends_on": ["db"],
                        "ports": [api_port],
                        "probes": {"ready": {"http": f"http://127.0.0.1:{api_port}/", "period": "200ms"}},
                    },
                },
            }
        )
        + extra
    )


def test_up_status_kill_restart_down(stack_dir: Path) -> None:
    api, db = free_port(), free_port()
    write_stack(stack_dir, api, db)
    proc = seawall(stack_dir, "up")
    assert proc.returncode == 0, proc.stderr
    assert "is up" in proc.stderr

    again = seawall(stack_dir, "up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr

    status = seawall(stack_dir, "status", "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    states = {c["component"]: c for c in doc["components"]}
    assert states["api"]["state"] == "running"
    assert states["api"]["probes"]["ready"]["status"] == "pass"
    old_pid = states["db"]["pid"]

    assert seawall(stack_dir, "kill", "db").returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        doc = json.loads(seawall(stack_dir, "status", "--json", "db").stdout)
        db_state = doc["components"][0]
        if (
            db_state["state"] == "running"
            and db_state["pid"] != old_pid
            and db_state["probes"]["ready"]["status"] == "pass"
        ):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"db was not restarted: {db_state}")
    assert db_state["restarts"] >= 1
    assert db_state["last_exit_code"] == -9

    verify = seawall(stack_dir, "verify")
    assert verify.returncode == 0
    assert "2/2 probes passed" in verify.stdout

    health = seawall(stack_dir, "health", "--health-json")
    assert json.loads(health.stdout)["status"] == "pass"

    logs = seawall(stack_dir, "logs", "api", "--tail", "50")
    assert logs.returncode == 0
    assert "GET / HTTP" in logs.stdout

    events = json.loads(seawall(stack_dir, "events", "--json", "-n", "100").stdout)
    kinds = {e["kind"] for e in events}
    assert {"start", "kill"} <= kinds

    down = seawall(stack_dir, "down")
    assert down.returncode == 0, down.stderr
    after = json.loads(seawall(stack_dir, "status", "--json").stdout)
    assert all(c["state"] in ("stopped", "unknown") for c in after["components"])


def test_port_held_by_a_stranger_fails_doctor_and_up(stack_dir: Path) -> None:
    api, db = free_port(), free_port()
    write_stack(stack_dir, api, db)
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", db))
        stranger.listen()
        doctor = seawall(stack_dir, "doctor")
        assert doctor.returncode == 1
        assert str(db) in doctor.stdout
        up = seawall(stack_dir, "up")
    assert up.returncode == 1
    assert "Traceback" not in up.stderr


def test_missing_command_is_named(stack_dir: Path) -> None:
    (stack_dir / "seawall.yaml").write_text(
        "stack: s\ncomponents:\n  ghost: {command: [seawall-no-such-binary-xyz]}\n"
    )
    proc = seawall(stack_dir, "up", "--no-doctor")
    assert proc.returncode == 1
    assert "seawall-no-such-binary-xyz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_component_that_never_becomes_ready_is_named(stack_dir: Path) -> None:
    dead = free_port()
    (stack_dir / "seawall.yaml").write_text(
        json.dumps(
            {
                "stack": "s",
                "components": {
                    "slow": {
                        "command": [sys.executable, "-c", "import time; time.sleep(60)"],
                        "probes": {"ready": {"tcp": dead, "period": "200ms"}},
                        "start_timeout": "2s",
                    }
                },
            }
        )
    )
    proc = seawall(stack_dir, "up", "--no-doctor")
    assert proc.returncode == 1
    assert "'slow' did not become ready within 2s" in proc.stderr


def test_probe_against_a_dead_port_fails_health(stack_dir: Path) -> None:
    dead = free_port()
    (stack_dir / "seawall.yaml").write_text(
        json.dumps({"stack": "s", "components": {"ext": {"probes": {"ready": {"tcp": dead}}}}})
    )
    proc = seawall(stack_dir, "health")
    assert proc.returncode == 1
    assert "refused" in proc.stdout
