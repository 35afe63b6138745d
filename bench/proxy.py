"""Benchmark: direct vs HAProxy (tcp mode) vs the seawall fault proxy, no faults active, on 127.0.0.1.

Bulk throughput over one connection (iperf3, 3 s runs), added p50/p99 latency of a small
request/response (redis-benchmark PING_MBULK with one client against a private redis-server), and
the scheduling accuracy of an active 100 ms latency fault (raw PINGs to redis through it).
Targets (issue 4): throughput >= 1.0x HAProxy's, added p50 <= 1.5x HAProxy's, p99 error <= 2 ms.
Every process started here is stopped here; each also has a lifetime limit of its own.
Usage: python bench/proxy.py [--runs 3] [--seconds 3] [--samples 300]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

LIFETIME = 600  # seconds: a child left behind by a crashed run still goes away


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def started(cmd: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        ["timeout", str(LIFETIME), *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def iperf(port: int, seconds: float) -> float:
    """MB/s received over one connection to ``port`` (an iperf3 server behind it)."""
    for _ in range(5):  # the server may still be finishing the previous test ("busy")
        out = subprocess.run(
            ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        ).stdout
        result = json.loads(out)
        if "sum_received" in result.get("end", {}):
            return float(result["end"]["sum_received"]["bits_per_second"]) / 8 / 1e6
        time.sleep(0.5)
    raise RuntimeError(f"iperf3 through port {port} failed: {result.get('error')}")


def redis_ping(port: int, requests: int) -> tuple[float, float]:
    """(p50, p99) milliseconds of PING_MBULK with one client."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-c", "1", "-n", str(requests), "-t", "ping_mbulk", "--csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["test"].startswith("PING"))
    return float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def fault_accuracy(api: int, proxy_port: int, samples: int) -> tuple[list[float], list[float]]:
    """Errors (ms) of an asked 100 ms latency fault on PING round trips through the proxy.

    Each sample is followed by a bare ``time.sleep(0.1)`` timed the same way: on a shared machine
    the scheduler alone misses by milliseconds at p99, and this baseline says how much of the
    proxy's error is the machine's.
    """
    body = json.dumps({"name": "bench", "type": "latency", "attributes": {"latency": 100}}).encode()
    urllib.request.urlopen(f"http://127.0.0.1:{api}/proxies/redis/toxics", data=body, timeout=10).close()
    errors, baseline = [], []
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(samples):
            start = time.perf_counter()
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
            errors.append((time.perf_counter() - start) * 1000 - 100)
            start = time.perf_counter()
            time.sleep(0.1)
            baseline.append((time.perf_counter() - start) * 1000 - 100)
    request = urllib.request.Request(f"http://127.0.0.1:{api}/proxies/redis/toxics/bench", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()
    return errors, baseline


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def haproxy_config(tmp: Path, routes: dict[int, int]) -> Path:
    lines = ["global", "    maxconn 1000", "defaults", "    mode tcp", "    timeout connect 5s"]
    lines += ["    timeout client 60s", "    timeout server 60s"]
    for listen, upstream in routes.items():
        lines += [f"listen l{listen}", f"    bind 127.0.0.1:{listen}", f"    server s 127.0.0.1:{upstream}"]
    path = tmp / "haproxy.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    missing = [t for t in ("iperf3", "redis-server", "redis-benchmark", "haproxy") if not shutil.which(t)]
    if missing:
        print(
            f"missing tools: {', '.join(missing)} (apt-get install iperf3 redis-server redis-tools haproxy)"
        )
        return 2
    iperf_port, redis_port = free_port(), free_port()
    hap = {"iperf": free_port(), "redis": free_port()}
    sea = {"iperf": free_port(), "redis": free_port()}
    api = free_port()
    upstream = {"iperf": iperf_port, "redis": redis_port}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "proxies.json"
        config.write_text(
            json.dumps(
                [
                    {"name": n, "listen": f"127.0.0.1:{p}", "upstream": f"127.0.0.1:{upstream[n]}"}
                    for n, p in sea.items()
                ]
            )
        )
        code = (
            "from pathlib import Path; from seawall.cli.cmd_proxy import proxy; "
            f"proxy(port={api}, config=Path({str(config)!r}), seed=1)"
        )
        redis_cmd = [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with (
            started(["iperf3", "-s", "-p", str(iperf_port)]),
            started(redis_cmd),
            started(["haproxy", "-db", "-f", str(haproxy_config(tmp, {hap[n]: upstream[n] for n in hap}))]),
            started([sys.executable, "-c", code]),
        ):
            # iperf3's server takes any connection for a test, so only the other ports are probed.
            for port in (redis_port, hap["redis"], sea["redis"], api):
                wait_port(port)
            time.sleep(0.5)
            paths = {"direct": upstream, "haproxy": hap, "seawall": sea}
            mbps: dict[str, list[float]] = {p: [] for p in paths}
            lat: dict[str, list[tuple[float, float]]] = {p: [] for p in paths}
            for _ in range(args.runs):  # interleaved, so drift in machine load hits every path alike
                for name, ports in paths.items():
                    mbps[name].append(iperf(ports["iperf"], args.seconds))
                    lat[name].append(redis_ping(ports["redis"], args.requests))
            errors, baseline = fault_accuracy(api, sea["redis"], args.samples)
    thr = {p: statistics.median(v) for p, v in mbps.items()}
    p50 = {p: statistics.median(x[0] for x in v) for p, v in lat.items()}
    p99 = {p: statistics.median(x[1] for x in v) for p, v in lat.items()}
    print(f"runs: {args.runs} (medians), iperf3 {args.seconds:g}s x1 stream, redis-benchmark PING_MBULK -c 1")
    print(f"{'path':<9} {'MB/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 us':>8} {'+p99 us':>8}")
    for name in paths:
        add50 = (p50[name] - p50["direct"]) * 1000
        add99 = (p99[name] - p99["direct"]) * 1000
        print(f"{name:<9} {thr[name]:>8.0f} {p50[name]:>8.3f} {p99[name]:>8.3f} {add50:>8.0f} {add99:>8.0f}")
    thr_ratio = thr["seawall"] / thr["haproxy"]
    hap_add = max(p50["haproxy"] - p50["direct"], 0.001)
    lat_ratio = (p50["seawall"] - p50["direct"]) / hap_add
    print(f"throughput seawall/haproxy: {thr_ratio:.2f}x (target >= 1.0x)")
    print(
        f"added p50 seawall/haproxy:  {lat_ratio:.2f}x (target <= 1.5x; resolution of redis-benchmark: 1 us)"
    )
    print(
        f"latency fault 100 ms over {len(errors)} PINGs: error p50 {statistics.median(errors):.3f} ms, "
        f"p99 {percentile(errors, 0.99):.3f} ms, max {max(errors):.3f} ms (target p99 <= 2 ms)"
    )
    print(
        f"  the machine's own error, a bare time.sleep(0.1) after each PING: "
        f"p50 {statistics.median(baseline):.3f} ms, p99 {percentile(baseline, 0.99):.3f} ms, "
        f"max {max(baseline):.3f} ms"
    )
    print(f"all samples MB/s: {json.dumps({k: [round(x) for x in v] for k, v in mbps.items()})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
