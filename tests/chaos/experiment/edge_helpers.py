"""Helpers of the edge-fault tests: a stack whose supervisor hosts the fault proxy, and TCP checks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
from chaos_helpers import MakeStack, http_server

from _helpers import free_port, wait_for
from seawall.chaos.faults.network import call_api
from seawall.config import StackConfig
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime

FAST = {"probe_interval": "100ms", "sustained": 2, "recovery_timeout": "10s"}

RUNNER = """
import sys
from pathlib import Path
from seawall.chaos.experiment import load_experiment, run_experiment
from seawall.config import load_stack
record = run_experiment(load_experiment(Path(sys.argv[2])), load_stack(Path(sys.argv[1])))
sys.exit(record.exit_code)
"""


def edge_stack(make_stack: MakeStack) -> tuple[StackConfig, str, dict[str, str]]:
    """catalog and web serve HTTP; web and worker call catalog, catalog calls web: four edges.

    Started with ``up``: the supervisor hosts the proxy. Returns the stack, the proxy's control API
    and each edge's listener (``host:port``).
    """
    catalog_port, web_port = free_port(), free_port()
    catalog = http_server(catalog_port)
    catalog.update(env={"WEB_URL": f"http://127.0.0.1:{web_port}/"}, edges={"web": "WEB_URL"})
    web = http_server(web_port)
    web.update(env={"CATALOG_URL": f"http://127.0.0.1:{catalog_port}/"}, edges={"catalog": "CATALOG_URL"})
    worker = {
        "command": [sys.executable, "-c", "import time; time.sleep(600)"],
        "env": {"CATALOG_URL": f"http://127.0.0.1:{catalog_port}/"},
        "edges": {"catalog": "CATALOG_URL"},
    }
    stack = make_stack({"catalog": catalog, "web": web, "worker": worker})
    up(stack, get_runtime(stack))
    proxy_file = stack.state_dir / "proxy.json"
    wait_for(proxy_file.exists, what="the supervisor's proxy.json")
    info = json.loads(proxy_file.read_text())
    return stack, str(info["api"]), dict(info["edges"])


def fetch(address: str, timeout: float = 2.0) -> str:
    """One HTTP/1.0 GET over a new connection: 'ok' (a response came), 'refused', or 'cut' (closed first)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, TimeoutError):
        return "cut"
    return "ok" if data.startswith(b"HTTP/") else "cut"


def fetch_all(addresses: list[str]) -> dict[str, str]:
    """``fetch`` each address (a python provider of the experiments calls this mid-method)."""
    return {address: fetch(address) for address in addresses}


def toxics(api: str) -> dict[str, list[dict[str, Any]]]:
    """Every proxy's toxics, by proxy name."""
    status, body = call_api(api, "GET", "/proxies")
    assert status == 200, body
    return {name: list(proxy["toxics"]) for name, proxy in body.items()}


def toxic_names(api: str) -> dict[str, list[str]]:
    """The toxics' names per proxy (an empty list: a clean proxy)."""
    return {name: [t["name"] for t in items] for name, items in toxics(api).items()}


def running_unfrozen(stack: StackConfig, component: str) -> bool:
    """The component runs and is not frozen (SIGSTOP): whatever a fault did to it was undone."""
    status = get_runtime(stack).status([component])[0]
    if status.state != "running" or status.pid is None:
        return False
    return psutil.Process(status.pid).status() != psutil.STATUS_STOPPED


def cli(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``seawall -f CONFIG ARGV`` in a child process, wide enough that Rich does not wrap lines."""
    return subprocess.run(
        [sys.executable, "-m", "seawall.cli", "-f", str(config), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def runner_script(tmp_path: Path) -> Path:
    """A script running ``argv[2]`` (experiment) on ``argv[1]`` (seawall.yaml), to be SIGKILLed."""
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return script
