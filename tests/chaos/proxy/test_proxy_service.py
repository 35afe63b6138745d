"""`seawall proxy` as a process: serves the API, creates configured proxies, shuts down cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_command_serves_until_sigterm_and_closes_its_listeners(tmp_path: Path) -> None:
    api, listen = free_port(), free_port()
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "x", "listen": f"127.0.0.1:{listen}", "upstream": "127.0.0.1:9"}]))
    code = (
        "from pathlib import Path; from seawall.cli.cmd_proxy import proxy; "
        f"proxy(port={api}, config=Path({str(config)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api}/proxies", timeout=2) as response:
                    proxies = json.load(response)
                break
            except OSError:
                assert proc.poll() is None, "the proxy exited early"
                assert time.monotonic() < deadline, "the API never answered"
                time.sleep(0.1)
        assert proxies["x"]["listen"] == f"127.0.0.1:{listen}"
        socket.create_connection(("127.0.0.1", listen), timeout=2).close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", listen), timeout=2).close()
