"""The Toxiproxy-compatible control API: paths, JSON shapes, status codes, metrics, TTL expiry."""

from __future__ import annotations

import time

import pytest
from proxy_helpers import Harness, connect

pytestmark = pytest.mark.integration


def test_proxy_lifecycle_shapes_and_status_codes(harness: Harness) -> None:
    upstream = f"127.0.0.1:{harness.echo_port}"
    status, created = harness.api(
        "POST", "/proxies", {"name": "db", "upstream": upstream, "listen": "127.0.0.1:0"}
    )
    assert status == 201
    assert set(created) == {"name", "listen", "upstream", "enabled", "toxics"}
    assert created["enabled"] is True
    assert created["toxics"] == []
    assert created["listen"].startswith("127.0.0.1:")
    assert not created["listen"].endswith(":0")
    assert harness.api("POST", "/proxies", {"name": "db", "upstream": upstream}) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )
    assert harness.api("POST", "/proxies", {"name": "x"})[0] == 400
    assert harness.api("GET", "/proxies") == (200, {"db": created})
    assert harness.api("GET", "/proxies/db") == (200, created)
    assert harness.api("GET", "/proxies/nope") == (404, {"error": "proxy not found", "status": 404})
    status, updated = harness.api("POST", "/proxies/db", {"enabled": False})
    assert (status, updated["enabled"]) == (200, False)
    port = int(created["listen"].rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        connect(port).close()
    assert harness.api("POST", "/reset") == (204, None)
    assert harness.api("GET", "/proxies/db")[1]["enabled"] is True
    assert harness.api("DELETE", "/proxies/db") == (204, None)
    assert harness.api("DELETE", "/proxies/db")[0] == 404


def test_toxic_shapes_and_status_codes(harness: Harness) -> None:
    harness.api("POST", "/proxies", {"name": "db", "upstream": f"127.0.0.1:{harness.echo_port}"})
    body = {"type": "latency", "attributes": {"latency": 250, "jitter": 10}}
    status, toxic = harness.api("POST", "/proxies/db/toxics", body)
    assert status == 200
    assert toxic == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 250, "jitter": 10},
        "ttl": 3600000,
    }
    assert harness.api("POST", "/proxies/db/toxics", body) == (
        409,
        {"error": "toxic already exists", "status": 409},
    )
    assert harness.api("POST", "/proxies/db/toxics", {"type": "nope"})[1]["error"] == "invalid toxic type"
    bad_stream = harness.api("POST", "/proxies/db/toxics", {"type": "latency", "stream": "sideways"})
    assert bad_stream[0] == 400
    assert "stream was invalid" in bad_stream[1]["error"]
    assert harness.api("POST", "/proxies/db/toxics", {"type": "latency", "toxicity": 2})[0] == 400
    assert harness.api("GET", "/proxies/db/toxics") == (200, [toxic])
    assert harness.api("GET", "/proxies/db")[1]["toxics"] == [toxic]
    status, changed = harness.api(
        "POST", "/proxies/db/toxics/latency_downstream", {"attributes": {"latency": 5}}
    )
    assert status == 200
    assert changed["attributes"] == {"latency": 5, "jitter": 10}
    assert harness.api("GET", "/proxies/db/toxics/latency_downstream") == (200, changed)
    assert harness.api("GET", "/proxies/db/toxics/other") == (
        404,
        {"error": "toxic not found", "status": 404},
    )
    assert harness.api("DELETE", "/proxies/db/toxics/latency_downstream") == (204, None)
    assert harness.api("DELETE", "/proxies/db/toxics/latency_downstream")[0] == 404
    assert harness.api("GET", "/proxies/db/toxics") == (200, [])


def test_populate_version_metrics_and_browsers(harness: Harness) -> None:
    items = [
        {"name": "a", "upstream": f"127.0.0.1:{harness.echo_port}", "listen": "127.0.0.1:0"},
        {"name": "b", "upstream": f"127.0.0.1:{harness.sink_port}"},
    ]
    status, populated = harness.api("POST", "/populate", items)
    assert status == 201
    assert [p["name"] for p in populated["proxies"]] == ["a", "b"]
    again = harness.api("POST", "/populate", items)[1]
    assert again == populated  # same upstream: kept as they are
    status, version = harness.api("GET", "/version")
    assert status == 200
    assert version["version"].startswith("2.")
    port = int(populated["proxies"][0]["listen"].rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.sendall(b"hello")
        assert sock.recv(5) == b"hello"
    harness.api("POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 1}})
    status, text = harness.api("GET", "/metrics")
    assert status == 200
    assert 'seawall_proxy_bytes_total{proxy="a",direction="upstream"} 5' in text
    assert 'seawall_proxy_connections_total{proxy="a"} 1' in text
    assert 'seawall_proxy_faults_active{proxy="a"} 1' in text
    assert harness.api("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})[0] == 403


def test_faults_expire_by_their_ttl(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.api("POST", "/proxies/echo/toxics", {"type": "timeout", "ttl": 300, "attributes": {"timeout": 0}})
    harness.api("POST", "/proxies/echo/toxics", {"name": "later", "type": "latency", "ttl": "1h"})
    with connect(port) as sock:
        start = time.perf_counter()
        sock.sendall(b"held")
        assert sock.recv(4) == b"held"  # held by the timeout toxic until it expired
        assert 0.25 < time.perf_counter() - start < 2.0
    names = [t["name"] for t in harness.api("GET", "/proxies/echo/toxics")[1]]
    assert names == ["later"]
    assert 'seawall_proxy_faults_expired_total{proxy="echo"} 1' in harness.api("GET", "/metrics")[1]


def test_toxiproxy_python_client_drives_the_api(harness: Harness) -> None:
    toxiproxy = pytest.importorskip("toxiproxy")
    from toxiproxy.api import APIConsumer  # type: ignore[import-untyped,import-not-found,unused-ignore]

    client = toxiproxy.Toxiproxy()
    client.update_api_consumer("127.0.0.1", harness.api_port)
    try:
        assert client.running()
        proxy = client.create(upstream=f"127.0.0.1:{harness.echo_port}", name="redis", listen="127.0.0.1:0")
        assert set(client.proxies()) == {"redis"}
        proxy.add_toxic(type="latency", attributes={"latency": 150})
        assert proxy.toxics()["latency_downstream"].attributes["latency"] == 150
        port = int(proxy.listen.rsplit(":", 1)[1])
        with connect(port) as sock:
            start = time.perf_counter()
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
            assert time.perf_counter() - start >= 0.14
        proxy.destroy_toxic("latency_downstream")
        assert proxy.toxics() == {}
        with proxy.down(), pytest.raises(ConnectionRefusedError):
            connect(port).close()
        connect(port).close()
        client.destroy_all()
        assert client.proxies() == {}
    finally:
        APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474
