"""Helpers of the chaos experiment tests: tiny HTTP components, experiment files."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]


def http_server(port: int) -> dict[str, Any]:
    """A component serving HTTP on ``port`` with a fast readiness probe."""
    return {
        "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        "ports": [port],
        "probes": {"ready": {"http": f"http://127.0.0.1:{port}/", "period": "100ms", "timeout": "500ms"}},
        "restart": {"policy": "on-failure", "backoff": {"initial": "50ms", "max": "200ms"}},
        "stop_grace": "2s",
    }


def write_experiment(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path
