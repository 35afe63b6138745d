"""Writing the built-in demo stack (web -> catalog, SQLite and files datastores) into a directory."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import yaml


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS says is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_config(catalog_port: int, web_port: int, python: str = sys.executable) -> dict[str, object]:
    """The demo's seawall.yaml as data; paths are relative to the stack directory."""
    services = [python, "-m", "seawall.demo.services"]
    catalog_url = f"http://127.0.0.1:{catalog_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    fast = {"period": "1s", "timeout": "1s", "failure_threshold": 3}
    return {
        "stack": "seawall-demo",
        "runtime": "local",
        "components": {
            "migrate": {
                "command": [*services, "migrate", "--db", "data/catalog.db"],
                "one_shot": True,
                "restart": {"policy": "no"},
                "start_timeout": "30s",
            },
            "catalog": {
                "command": [*services, "catalog", "--port", str(catalog_port), "--db", "data/catalog.db"],
                "depends_on": {"migrate": {"condition": "completed"}},
                "ports": [catalog_port],
                "probes": {
                    "ready": {"http": f"{catalog_url}/health/ready", **fast, "period": "500ms"},
                    "live": {"http": f"{catalog_url}/health/live", **fast, "initial_delay": "1s"},
                },
                "restart": {"policy": "on-failure", "max_retries": 5, "backoff": {"initial": "200ms"}},
                "resources": {"memory": "512Mi"},
                "datastore": {"kind": "sqlite", "path": "data/catalog.db"},
                "start_timeout": "20s",
            },
            "web": {
                "command": [*services, "web", "--port", str(web_port), "--files", "data/uploads"],
                "env": {"CATALOG_URL": catalog_url},
                "edges": {"catalog": "CATALOG_URL"},
                "depends_on": ["catalog"],
                "ports": [web_port],
                "probes": {
                    # web's readiness budget is 500 ms (slower than 250 ms is a warning): readiness
                    # that takes longer is a breach, which is what the demo's 800 ms latency fault
                    # on web -> catalog must show (web asks catalog, with a 1 s timeout, on each check)
                    "ready": {
                        "http": {
                            "url": f"{web_url}/health/ready",
                            "json_path": "status",
                            "json_equals": "pass",
                            "max_latency": "250ms",
                        },
                        **fast,
                        "timeout": "500ms",
                    },
                    "live": {"http": f"{web_url}/health/live", **fast, "initial_delay": "1s"},
                },
                "restart": {"policy": "on-failure", "max_retries": 5, "backoff": {"initial": "200ms"}},
                "resources": {"memory": "512Mi"},
                "datastore": {"kind": "files", "path": "data/uploads"},
                "start_timeout": "20s",
            },
        },
        "smoke": [
            {"name": "shop lists the catalog", "http": {"url": f"{web_url}/", "body_contains": "lifebuoy"}},
            {
                "name": "an order is stored",
                "http": {
                    "url": f"{web_url}/orders",
                    "method": "POST",
                    "body": '{"item": 1}',
                    "status": [201],
                },
            },
            {"name": "catalog database writes and reads", "sqlite": "data/catalog.db"},
        ],
        "backup": {"repository": "./backups", "retention": {"keep_last": 7}},
        "objectives": {"rto": "1m", "rpo": "15m", "mttr": "10s"},
    }


def write_demo(directory: Path) -> Path:
    """Write seawall.yaml for the demo into ``directory`` (created if needed); returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data" / "uploads").mkdir(parents=True, exist_ok=True)
    catalog_port = free_port()
    web_port = free_port()
    while web_port == catalog_port:
        web_port = free_port()
    path = directory / "seawall.yaml"
    header = "# The Seawall demo stack: web -> catalog, a SQLite and a files datastore.\n"
    path.write_text(header + yaml.safe_dump(demo_config(catalog_port, web_port), sort_keys=False))
    return path
