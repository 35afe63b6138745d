"""Benchmark: wall time of `seawall --help` as a ratio to a bare `python -c pass` (target <= 3x)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

RUNS = 15
TARGET = 3.0


def wall(argv: list[str]) -> float:
    """Median wall time of a command over RUNS runs (after one warm-up)."""
    subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    """Print both medians and the ratio."""
    seawall = shutil.which("seawall") or f"{sys.prefix}/bin/seawall"
    bare = wall([sys.executable, "-c", "pass"])
    cli = wall([seawall, "--help"])
    ratio = cli / bare
    print(f"python -c pass : {bare * 1000:7.1f} ms (median of {RUNS})")
    print(f"seawall --help : {cli * 1000:7.1f} ms (median of {RUNS})")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"ratio          : {ratio:.2f}x  ({verdict} the {TARGET:g}x target)")


if __name__ == "__main__":
    main()
