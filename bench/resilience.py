"""Benchmark: success-path overhead of seawall.resilience vs its peers, and health req/s."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

import backoff
import circuitbreaker  # type: ignore[import-untyped]
import pybreaker
import stamina
import tenacity
import uvicorn

from seawall.asgi import Health
from seawall.resilience import (
    AsyncBreaker,
    AsyncBulkhead,
    AsyncPipeline,
    AsyncRetry,
    Breaker,
    Bulkhead,
    Pipeline,
    Registry,
    Retry,
)

N = 50_000
REPEATS = 5


def work() -> int:
    return 1


async def awork() -> int:
    return 1


def per_call(fn: Callable[[], object]) -> float:
    """Median seconds per call over REPEATS runs of N calls."""
    return statistics.median(timeit.repeat(fn, number=N, repeat=REPEATS)) / N


def per_acall(fn: Callable[[], Awaitable[object]]) -> float:
    async def batch() -> None:
        for _ in range(N):
            await fn()

    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        asyncio.run(batch())
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) / N


def sync_subjects() -> dict[str, Callable[[], object]]:
    registry = Registry()  # metrics on: every policy registered and counting
    seawall_breaker = registry.add(Breaker("bench"))
    pipeline = Pipeline(
        bulkhead=registry.add(Bulkhead(100, name="bench")),
        retry=registry.add(Retry(on=ConnectionError, name="bench")),
        breaker=registry.add(Breaker("bench-pipe")),
    )
    stamina.set_testing(False)
    return {
        "seawall retry": registry.add(Retry(on=ConnectionError, name="r"))(work),
        "seawall breaker": seawall_breaker(work),
        "seawall pipeline": pipeline(work),
        "tenacity": tenacity.retry(
            stop=tenacity.stop_after_attempt(3), retry=tenacity.retry_if_exception_type(ConnectionError)
        )(work),
        "stamina": stamina.retry(on=ConnectionError, attempts=3)(work),
        "backoff": backoff.on_exception(backoff.expo, ConnectionError, max_tries=3)(work),
        "pybreaker": pybreaker.CircuitBreaker()(work),
        "circuitbreaker": circuitbreaker.circuit(work),
    }


def async_subjects() -> dict[str, Callable[[], Awaitable[object]]]:
    registry = Registry()
    pipeline = AsyncPipeline(
        bulkhead=registry.add(AsyncBulkhead(100, name="bench")),
        retry=registry.add(AsyncRetry(on=ConnectionError, name="bench")),
        breaker=registry.add(Breaker("bench-pipe")),
    )
    return {
        "seawall retry": AsyncRetry(on=ConnectionError)(awork),
        "seawall breaker": registry.add(AsyncBreaker("bench"))(awork),
        "seawall pipeline": pipeline(awork),
        "tenacity": tenacity.retry(
            stop=tenacity.stop_after_attempt(3), retry=tenacity.retry_if_exception_type(ConnectionError)
        )(awork),
        "stamina": stamina.retry(on=ConnectionError, attempts=3)(awork),
        "backoff": backoff.on_exception(backoff.expo, ConnectionError, max_tries=3)(awork),
        "circuitbreaker": circuitbreaker.circuit(awork),
    }


def report(title: str, overhead: dict[str, float]) -> None:
    print(f"\n{title}: overhead per successful call (median of {REPEATS} x {N:,} calls)")
    peers = [k for k in overhead if not k.startswith("seawall")]
    for name, value in overhead.items():
        print(f"  {name:18s} {value * 1e6:7.3f} us")
    for name in (k for k in overhead if k.startswith("seawall")):
        ratios = ", ".join(f"{p} {overhead[p] / max(overhead[name], 1e-12):.1f}x" for p in peers)
        print(f"  {name} (peer overhead / ours; > 1 means cheaper): {ratios}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(port: int, path: str, seconds: float, connections: int) -> int:
    """Keep-alive HTTP/1.1 clients hammering ``path``; returns responses received."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            done += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(client() for _ in range(connections)))
    return done


def health_rps(seconds: float = 2.0, connections: int = 16) -> dict[str, float]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    registry = Registry()
    registry.breaker("catalog")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Health(app, registry=registry), host="127.0.0.1", port=port, log_level="error", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        return {
            path: asyncio.run(load(port, path, seconds, connections)) / seconds
            for path in ("/health/live", "/health/ready", "/health/metrics")
        }
    finally:
        server.should_exit = True
        thread.join(10)


def main() -> None:
    base = per_call(work)
    report("sync", {name: per_call(fn) - base for name, fn in sync_subjects().items()})
    abase = per_acall(awork)
    report("async", {name: per_acall(fn) - abase for name, fn in async_subjects().items()})
    print(
        "\nhealth endpoints under a local load generator (uvicorn, 16 keep-alive connections,"
        " generator in the same process on another thread):"
    )
    for path, rps in health_rps().items():
        print(f"  {path:18s} {rps:9,.0f} req/s")


if __name__ == "__main__":
    main()
