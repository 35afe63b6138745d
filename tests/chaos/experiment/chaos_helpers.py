"""Helpers of the chaos experiment tests: free ports, tiny HTTP components, polling, experiment files."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_server(port: int) -> dict[str, Any]:
    """A component serving HTTP on ``port`` with a fast readiness probe."""
    return {
        "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        "ports": [port],
        "probes": {"ready": {"http": f"http://127.0.0.1:{port}/", "period": "100ms", "timeout": "500ms"}},
        "restart": {"policy": "on-failure", "backoff": {"initial": "50ms", "max": "200ms"}},
        "stop_grace": "2s",
    }


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def write_experiment(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path
