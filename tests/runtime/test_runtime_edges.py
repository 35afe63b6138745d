"""Edges on the local runtime: the supervisor hosts the stack's fault proxy and rewires callers through it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from _helpers import free_port, kill_tagged, wait_for, write_stack
from seawall.chaos.faults.network import call_api
from seawall.config import StackConfig, load_stack
from seawall.ops.lifecycle import down, up
from seawall.runtime import daemon_pid, ensure_daemon, get_runtime, shutdown
from seawall.runtime._edges import plan_routes
from seawall.runtime.local import fault_proxy_api

PY = sys.executable
LATENCY_MS = 1000
# The caller: GET / fetches $CATALOG_URL and answers what it used and how long the call took.
CALLER = """
import json, os, sys, time, urllib.request
from http.server import HTTPServer, BaseHTTPRequestHandler

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = os.environ["CATALOG_URL"]
        began = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                status = resp.status
        except OSError as exc:
            status = repr(exc)
        body = json.dumps({"url": url, "status": status, "seconds": time.monotonic() - began}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

Stack = tuple[StackConfig, int, int]  # the stack, catalog's port, web's port


@pytest.fixture
def edge_stack(tmp_path: Path) -> Iterator[Stack]:
    """catalog (http.server) and web calling it through the edge web->catalog; torn down afterwards."""
    tag = uuid.uuid4().hex
    catalog_port, web_port = free_port(), free_port()
    fast = {"period": "100ms", "timeout": "2s"}
    components: dict[str, dict[str, Any]] = {
        "catalog": {
            "command": [PY, "-m", "http.server", "--bind", "127.0.0.1", str(catalog_port)],
            "env": {},
            "ports": [catalog_port],
            "probes": {"ready": {"http": f"http://127.0.0.1:{catalog_port}/", **fast}},
            "stop_grace": "2s",
        },
        "web": {
            "command": [PY, "-c", CALLER, str(web_port)],
            "env": {"CATALOG_URL": f"http://127.0.0.1:{catalog_port}/"},
            "edges": {"catalog": "CATALOG_URL"},
            "depends_on": ["catalog"],
            "ports": [web_port],
            "probes": {"ready": {"http": f"http://127.0.0.1:{web_port}/", **fast}},
            "stop_grace": "2s",
        },
    }
    config, stack = write_stack(tmp_path, f"e{tag[:8]}", components, tag)
    try:
        yield stack, catalog_port, web_port
    finally:
        with contextlib.suppress(Exception):
            down(stack, get_runtime(stack))
        with contextlib.suppress(Exception):
            shutdown(stack)
        kill_tagged(tag, config)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def edges_only(tmp_path: Path, catalog_url: str) -> StackConfig:
    """A stack that is only loaded (nothing runs): web -> catalog at ``catalog_url``."""
    data = {
        "stack": "plan",
        "components": {
            "catalog": {"command": [PY, "-c", "pass"], "ports": [8000]},
            "web": {
                "command": [PY, "-c", "pass"],
                "env": {"CATALOG_URL": catalog_url},
                "edges": {"catalog": "CATALOG_URL"},
            },
        },
    }
    config = tmp_path / "seawall.yaml"
    config.write_text(yaml.safe_dump(data))
    return load_stack(config)


def test_plan_routes_reuses_a_saved_port_only_for_an_unchanged_edge(tmp_path: Path) -> None:
    stack = edges_only(tmp_path, "http://127.0.0.1:8000/api")
    saved = {"web->catalog": {"env_var": "CATALOG_URL", "upstream": "127.0.0.1:8000", "port": 41234}}
    (route,) = plan_routes(stack, saved)
    assert (route.listen, route.upstream) == ("127.0.0.1:41234", "127.0.0.1:8000")

    moved = edges_only(tmp_path, "http://127.0.0.1:8001/api")
    (fresh,) = plan_routes(moved, saved)
    assert fresh.upstream == "127.0.0.1:8001"
    assert fresh.listen != "127.0.0.1:41234"
    assert int(fresh.listen.rpartition(":")[2]) not in (0, 8000, 8001)


def call_through_web(web_port: int) -> dict[str, Any]:
    """What web's call to catalog used and took."""
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=30) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


def proxy_file(stack: StackConfig) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack.state_dir / "proxy.json").read_text())
    return data


def listener_port(stack: StackConfig) -> int:
    saved = json.loads((stack.state_dir / "edges.json").read_text())
    return int(saved["edges"]["web->catalog"]["port"])


@pytest.mark.integration
def test_edge_routes_the_caller_through_the_stacks_proxy_and_faults_hit_it(edge_stack: Stack) -> None:
    stack, catalog_port, web_port = edge_stack
    up(stack, get_runtime(stack))
    info = proxy_file(stack)
    assert info["pid"] == daemon_pid(stack)
    assert fault_proxy_api(stack) == info["api"]
    port = listener_port(stack)
    assert port != catalog_port
    assert info["edges"] == {"web->catalog": f"127.0.0.1:{port}"}

    # the caller's env points at the listener, and traffic flows through it to catalog
    first = call_through_web(web_port)
    assert first["url"] == f"http://127.0.0.1:{port}/"
    assert first["status"] == 200

    # a latency toxic added through the stack's proxy API slows the edge by about its latency
    api = info["api"]
    toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": LATENCY_MS}}
    status, _ = call_api(api, "POST", "/proxies/web_to_catalog/toxics", toxic)
    assert status == 200
    slowed = call_through_web(web_port)
    assert slowed["status"] == 200
    assert slowed["seconds"] >= 0.9 * LATENCY_MS / 1000

    # removing it restores the edge
    status, _ = call_api(api, "DELETE", "/proxies/web_to_catalog/toxics/slow")
    assert status == 204
    restored = call_through_web(web_port)
    assert restored["status"] == 200
    assert restored["seconds"] < 0.8 * LATENCY_MS / 1000

    # shutdown stops the proxy and removes proxy.json; the ports stay in edges.json for next time
    assert shutdown(stack)
    assert not (stack.state_dir / "proxy.json").exists()
    assert fault_proxy_api(stack) is None
    assert listener_port(stack) == port
    up(stack, get_runtime(stack))
    assert listener_port(stack) == port
    again = call_through_web(web_port)
    assert again["url"] == f"http://127.0.0.1:{port}/"
    assert again["status"] == 200


@pytest.mark.integration
def test_a_restarted_supervisor_serves_the_edge_on_the_same_port_for_adopted_callers(
    edge_stack: Stack,
) -> None:
    """After a SIGKILL the caller keeps its env; the new supervisor listens where that env points."""
    stack, _, web_port = edge_stack
    runtime = get_runtime(stack)
    up(stack, runtime)
    port = listener_port(stack)
    web_pid = runtime.status(["web"])[0].pid
    old = daemon_pid(stack)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: daemon_pid(stack) is None and not _alive(old), what="the supervisor to die")
    # the file outlives a killed supervisor, but nobody is sent to a dead proxy
    assert (stack.state_dir / "proxy.json").exists()
    assert fault_proxy_api(stack) is None

    assert ensure_daemon(stack) != old
    assert runtime.status(["web"])[0].pid == web_pid  # the new supervisor adopted web
    assert listener_port(stack) == port
    assert fault_proxy_api(stack) == proxy_file(stack)["api"]
    answer = wait_for(lambda: call_through_web(web_port)["status"] == 200, what="the edge to serve again")
    assert answer
    assert call_through_web(web_port)["url"] == f"http://127.0.0.1:{port}/"
