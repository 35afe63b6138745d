"""Each toxic's effect, measured on real loopback sockets through the proxy."""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import threading
import time

import pytest
from proxy_helpers import Harness, connect, recv_all, recv_exactly

pytestmark = pytest.mark.integration


def rtt(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - start


@pytest.mark.parametrize("harness", ["asyncio", "uvloop"], indirect=True)
def test_bytes_pass_unchanged_both_ways(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    data = os.urandom(8 * 1024 * 1024)
    with connect(port) as sock:

        def send() -> None:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        got = recv_all(sock)
        sender.join(10)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


@pytest.mark.parametrize("harness", ["asyncio", "uvloop"], indirect=True)
def test_latency_adds_about_the_asked_milliseconds(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    with connect(port) as sock:
        base = statistics.median(rtt(sock) for _ in range(5))
        harness.toxic("echo", type="latency", attributes={"latency": 100})
        delayed = statistics.median(rtt(sock) for _ in range(5))
    assert base < 0.02
    assert 0.095 <= delayed < 0.16


def test_latency_with_jitter_stays_within_its_bounds(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="latency", stream="upstream", attributes={"latency": 60, "jitter": 30})
    with connect(port) as sock:
        times = [rtt(sock) for _ in range(10)]
    assert all(0.029 <= t < 0.12 for t in times), times
    assert max(times) - min(times) > 0.005  # jitter varies the delay


def test_bandwidth_limits_the_rate(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="bandwidth", attributes={"rate": 1000})  # 1 MB/s downstream
    data = os.urandom(1_500_000)
    with connect(port, timeout=10) as sock:
        start = time.perf_counter()
        sender = threading.Thread(target=sock.sendall, args=(data,))
        sender.start()
        got = recv_exactly(sock, len(data))
        elapsed = time.perf_counter() - start
        sender.join(10)
    assert got == data
    assert 1.2 < elapsed < 4.0


def test_limit_data_closes_after_the_limit(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="limit_data", attributes={"bytes": 1000})
    with connect(port) as sock:
        sock.sendall(b"x" * 5000)
        got = recv_all(sock)
    assert got == b"x" * 1000


def test_reset_peer_gives_connection_reset(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="reset_peer", stream="upstream", attributes={"timeout": 0})
    with connect(port) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_timeout_blackholes_then_closes(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="timeout", attributes={"timeout": 300})
    with connect(port) as sock:
        start = time.perf_counter()
        sock.sendall(b"hello")
        got = recv_all(sock)
        elapsed = time.perf_counter() - start
    assert got == b""
    assert 0.25 < elapsed < 1.5


def test_timeout_zero_holds_data_until_removed(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", name="hold", type="timeout", attributes={"timeout": 0})
    with connect(port) as sock:
        sock.sendall(b"hello")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        harness.remove("echo", "hold")
        sock.settimeout(5)
        assert recv_exactly(sock, 5) == b"hello"


def test_down_refuses_connections_until_removed(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", name="off", type="down")
    with pytest.raises(ConnectionRefusedError):
        connect(port).close()
    harness.remove("echo", "off")
    with connect(port) as sock:
        assert rtt(sock) < 1


def test_slicer_cuts_data_into_small_slices(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="slicer", attributes={"average_size": 10, "size_variation": 4, "delay": 2000})
    with connect(port) as sock:
        sock.sendall(bytes(range(100)))
        reads: list[bytes] = []
        while sum(len(r) for r in reads) < 100:
            reads.append(sock.recv(1000))
    assert b"".join(reads) == bytes(range(100))
    assert len(reads) >= 5


def test_slow_close_delays_the_close(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="slow_close", attributes={"delay": 300})
    with connect(port) as sock:
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        start = time.perf_counter()
        assert recv_all(sock) == b"bye"
        elapsed = time.perf_counter() - start
    assert 0.25 < elapsed < 1.5


def test_toxicity_zero_leaves_connections_untouched(harness: Harness) -> None:
    port = harness.proxy("echo", harness.echo_port)
    harness.toxic("echo", type="latency", toxicity=0.0, attributes={"latency": 500})
    with connect(port) as sock:
        assert rtt(sock) < 0.1


def test_removing_a_fault_under_load_returns_fast_and_traffic_flows(harness: Harness) -> None:
    port = harness.proxy("bulk", harness.sink_port)
    echo_port = harness.proxy("echo", harness.echo_port)
    harness.toxic("bulk", name="slow", type="latency", stream="upstream", attributes={"latency": 1000})
    harness.toxic("echo", name="slow", type="latency", attributes={"latency": 1000})
    stop = threading.Event()
    sent = [0]

    def pump() -> None:
        block = os.urandom(256 * 1024)
        with connect(port, timeout=10) as sock:
            while not stop.is_set():
                sock.sendall(block)
                sent[0] += len(block)

    sender = threading.Thread(target=pump)
    sender.start()
    try:
        with connect(echo_port, timeout=10) as sock:
            time.sleep(0.5)  # the bulk link has megabytes queued behind the delay now
            for proxy in ("bulk", "echo"):
                start = time.perf_counter()
                status, _ = harness.api("DELETE", f"/proxies/{proxy}/toxics/slow")
                assert status == 204
                assert time.perf_counter() - start < 2.0
            assert rtt(sock) < 0.5
            before = sent[0]
            time.sleep(0.3)
            assert sent[0] > before  # the bulk transfer flows again
    finally:
        stop.set()
        sender.join(10)
