"""Benchmark: 1,000 HTTP probes run concurrently vs. one after another (target: under 1 s in all).

The HTTP servers run in a child process (its own interpreter and CPU), so the client's event loop
is measured alone. The child stops when its stdin closes (this process ended) or after a time limit.
Two server behaviours are measured: answering at once (the client's own cost per probe: here
concurrency cannot help, since nothing is waited on) and answering after a few milliseconds, as a
health endpoint that does some work or sits across a network would (where it does help).
Usage: python bench/probes.py [--targets 1000] [--runs 5] [--delay-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time

from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeTarget, Status, run_probes_sync

SERVERS = 4
SERVER_LIFETIME = 300.0  # seconds: a server left behind by a crashed run still goes away
TARGET_SECONDS = 1.0
SEQUENTIAL_RUNS = 3


class _Http(asyncio.Protocol):
    """A minimal keep-alive HTTP/1.1 responder: 200 and the request path for every GET.

    A path under /slow/ is answered after DELAY seconds without blocking other connections.
    """

    delay = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
            body = b'{"status": "pass", "path": "' + path + b'"}'
            response = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            if path.startswith(b"/slow/"):
                asyncio.get_running_loop().call_later(self.delay, self._write, response)
            else:
                self.transport.write(response)

    def _write(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)


async def _serve(count: int, delay: float) -> None:
    _Http.delay = delay
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(_Http, "127.0.0.1", 0, backlog=4096) for _ in range(count)]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    stdin_closed = loop.run_in_executor(None, sys.stdin.buffer.read)
    await asyncio.wait_for(stdin_closed, SERVER_LIFETIME)


def serve(count: int, delay: float) -> None:
    """Child process: serve on ``count`` free ports, print them, stop when stdin closes."""
    with contextlib.suppress(TimeoutError):
        asyncio.run(_serve(count, delay))


def targets(ports: list[int], n: int, prefix: str) -> list[tuple[ProbeTarget, ProbeSpec]]:
    """``n`` distinct URLs spread over the servers, each checked for status, body and a JSON value."""
    return [
        (
            ProbeTarget(f"svc{i}", "ready"),
            ProbeSpec.model_validate(
                {
                    "http": {
                        "url": f"http://127.0.0.1:{ports[i % len(ports)]}/{prefix}/{i}",
                        "body_contains": f"/{prefix}/{i}",
                        "json_path": "status",
                        "json_equals": "pass",
                    },
                    "timeout": "5s",
                }
            ),
        )
        for i in range(n)
    ]


def timed(items: list[tuple[ProbeTarget, ProbeSpec]], concurrency: int) -> float:
    """Wall time of one run; every probe must pass or the benchmark is void."""
    began = time.perf_counter()
    results = run_probes_sync(items, concurrency=concurrency)
    elapsed = time.perf_counter() - began
    failed = [(t.component, r.detail) for t, r in results if r.status is not Status.PASS]
    if failed:
        raise SystemExit(f"{len(failed)} probes did not pass, e.g. {failed[:3]}")
    return elapsed


def compare(items: list[tuple[ProbeTarget, ProbeSpec]], runs: int, concurrency: int) -> tuple[float, float]:
    """Median wall times of the concurrent and the sequential runs (after one warm-up)."""
    timed(items, concurrency)  # warm-up: imports, first connections
    concurrent = statistics.median(timed(items, concurrency) for _ in range(runs))
    sequential = statistics.median(timed(items, 1) for _ in range(SEQUENTIAL_RUNS))
    return concurrent, sequential


def main() -> None:
    """Start the servers, time both ways for both server behaviours, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.delay_ms / 1000)
        return
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(SERVERS), "--delay-ms", str(args.delay_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        ports = [int(p) for p in child.stdout.readline().split()]
        scenarios = [("answers at once", "health"), (f"answers after {args.delay_ms:g} ms", "slow")]
        figures = [
            (label, *compare(targets(ports, args.targets, prefix), args.runs, args.concurrency))
            for label, prefix in scenarios
        ]
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()
    print(f"{args.targets} distinct http probe targets, {len(ports)} local servers in a separate process")
    print(
        f"concurrency {args.concurrency}; median of {args.runs} concurrent, {SEQUENTIAL_RUNS} sequential runs"
    )
    print(f"{'server':<24}{'concurrent':>12}{'sequential':>12}{'seq/conc':>10}  target <{TARGET_SECONDS:g}s")
    for label, concurrent, sequential in figures:
        verdict = "met" if concurrent < TARGET_SECONDS else "MISSED"
        print(
            f"{label:<24}{concurrent * 1000:>9.1f} ms{sequential * 1000:>9.1f} ms"
            f"{sequential / concurrent:>9.2f}x  {verdict}"
        )


if __name__ == "__main__":
    main()
