"""HTTP request faults through the proxy: abort by path, method and header, delay, keep-alive."""

from __future__ import annotations

import http.client
import time

import pytest
from proxy_helpers import Harness

pytestmark = pytest.mark.integration


def get(conn: http.client.HTTPConnection, method: str, path: str, **kw: object) -> tuple[int, str]:
    conn.request(method, path, **kw)  # type: ignore[arg-type]
    response = conn.getresponse()
    return response.status, response.read().decode()


def test_abort_hits_a_matching_path_only_on_one_keep_alive_connection(harness: Harness) -> None:
    port = harness.proxy("web", harness.http_port)
    harness.toxic("web", type="http_abort", attributes={"status": 503, "rate": 1.0, "path_prefix": "/api"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        assert get(conn, "GET", "/api/items")[0] == 503
        assert get(conn, "GET", "/health") == (200, "ok GET /health 0")
        assert get(conn, "POST", "/api/items", body=b"x" * 5000)[0] == 503
        assert get(conn, "POST", "/other", body=b"y" * 5000) == (200, "ok POST /other 5000")
        assert get(conn, "POST", "/api/x", body=iter([b"abc", b"defg"]))[0] == 503  # chunked
        assert get(conn, "PUT", "/upload", body=iter([b"abc", b"defg"])) == (200, "ok PUT /upload 7")
    finally:
        conn.close()


def test_abort_matches_method_and_header(harness: Harness) -> None:
    port = harness.proxy("web", harness.http_port)
    harness.toxic(
        "web", type="http_abort", attributes={"status": 500, "method": "POST", "header": "X-Chaos: on"}
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        assert get(conn, "POST", "/a", body=b"1", headers={"X-Chaos": "on"})[0] == 500
        assert get(conn, "POST", "/a", body=b"1", headers={"X-Chaos": "off"})[0] == 200
        assert get(conn, "GET", "/a", headers={"X-Chaos": "on"})[0] == 200
    finally:
        conn.close()


def test_abort_at_rate_zero_passes_everything(harness: Harness) -> None:
    port = harness.proxy("web", harness.http_port)
    harness.toxic("web", type="http_abort", attributes={"rate": 0.0})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        assert [get(conn, "GET", f"/{i}")[0] for i in range(5)] == [200] * 5
    finally:
        conn.close()


def test_delay_holds_matching_requests(harness: Harness) -> None:
    port = harness.proxy("web", harness.http_port)
    harness.toxic("web", type="http_delay", attributes={"delay": 200, "path_prefix": "/slow"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        start = time.perf_counter()
        assert get(conn, "GET", "/slow/x")[0] == 200
        slow = time.perf_counter() - start
        start = time.perf_counter()
        assert get(conn, "GET", "/fast")[0] == 200
        fast = time.perf_counter() - start
    finally:
        conn.close()
    assert 0.19 <= slow < 1.0
    assert fast < 0.1
