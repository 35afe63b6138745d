"""The command probe with real processes: exit codes, missing programs, timeouts that kill the group."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, Status, run_probe

pytestmark = pytest.mark.integration


def run(command: object, timeout: str = "5s") -> ProbeResult:
    return asyncio.run(run_probe(ProbeSpec.model_validate({"command": command, "timeout": timeout})))


def test_exit_code_zero_passes() -> None:
    result = run(["true"])
    assert (result.status, result.detail) == (Status.PASS, "exit code 0")


def test_a_non_zero_exit_fails_with_the_code_and_last_output_line() -> None:
    result = run("echo starting; echo 'db not ready' >&2; exit 1")
    assert (result.status, result.detail) == (Status.FAIL, "exit code 1: db not ready")
    assert result.observed["exit_code"] == 1


def test_a_missing_program_fails_as_command_not_found() -> None:
    result = run(["seawall-no-such-command-xyz", "--flag"])
    assert (result.status, result.detail) == (Status.FAIL, "command not found: seawall-no-such-command-xyz")


def test_a_missing_working_directory_is_named() -> None:
    result = run({"argv": ["true"], "cwd": "/nonexistent/seawall"})
    assert result.detail == "working directory not found: /nonexistent/seawall"


def test_it_runs_in_the_given_working_directory(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("x")
    assert run({"argv": ["test", "-f", "marker"], "cwd": str(tmp_path)}).status is Status.PASS


def test_a_timeout_fails_and_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    result = run(f"sleep 30 & echo $! > {pidfile}; wait", timeout="300ms")
    assert (result.status, result.detail) == (Status.FAIL, "timed out after 0.3s")
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5  # reaping by init is asynchronous; this only waits for it
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
