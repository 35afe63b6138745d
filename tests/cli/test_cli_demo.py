"""The main job, `seawall demo`, end to end on real processes; and Ctrl-C in the middle of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration


def supervisor_alive(stack_dir: Path) -> bool:
    pidfile = stack_dir / ".seawall" / "supervisor.pid"
    if not pidfile.exists():
        return False
    text = pidfile.read_text().strip()
    return bool(text) and psutil.pid_exists(int(text.split()[0]))


def test_demo_measures_mttr_and_leaves_nothing_running(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "seawall.cli", "demo", str(tmp_path), "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == [
        "doctor",
        "up",
        "health",
        "smoke",
        "kill catalog (SIGKILL)",
        "lose the data, restore the backup",
        "latency web->catalog (800ms)",
        "down",
    ]
    assert 0 < report["mttr_seconds"] <= report["mttr_objective_seconds"]
    # the data-loss step: both datastores destroyed, restored from a verified backup, proven equal
    loss = report["data_loss"]
    assert sorted(loss["lost"]) == ["catalog", "web"]
    assert loss["fingerprints_equal"] is True
    assert 0 < loss["rto_seconds"] <= report["rto_objective_seconds"]
    assert 0 <= loss["rpo_seconds"] <= report["rpo_objective_seconds"]
    assert loss["stored_bytes"] > 0
    # the chaos step: 800 ms on web -> catalog breached web.ready, was removed, and it recovered
    chaos = report["chaos"]
    assert chaos["edge"] == "web->catalog"
    assert chaos["latency_ms"] == 800
    assert chaos["status"] == "deviated"
    assert chaos["time_to_impact_seconds"] > 0
    assert chaos["recovery_after_removal_seconds"] >= 0
    assert chaos["mttr_seconds"] > 0
    assert not (tmp_path / ".seawall" / "proxy.json").exists()
    assert not supervisor_alive(tmp_path)
    # the data the demo wrote is kept after down
    assert (tmp_path / "data" / "catalog.db").stat().st_size > 0
    assert list((tmp_path / "data" / "uploads").glob("order-*.json"))


def test_ctrl_c_during_demo_exits_130_and_brings_the_stack_down(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "seawall.cli", "demo", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        # a shell that started us in the background may have left SIGINT ignored, and children
        # inherit that; Ctrl-C must reach the demo for this test to mean anything
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 60
        while not supervisor_alive(tmp_path):
            assert time.monotonic() < deadline, "the demo never started its supervisor"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    deadline = time.monotonic() + 15
    while supervisor_alive(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not supervisor_alive(tmp_path)
