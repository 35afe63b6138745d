"""The child process of a resource fault: burn CPU, hold memory or fill a file, then exit by itself.

Run as ``python -m seawall.chaos.faults._hog KIND --token T --seconds S [--mib N] [--path FILE]``.
The token in the command line is how an inverse finds the child after the runner died. Every hog
bounds itself: a deadline it checks, plus a kernel limit (RLIMIT_CPU for cpu, RLIMIT_FSIZE for
disk) so even a hog that stops checking cannot run or grow past its bound.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path
from types import FrameType

MIB = 1024 * 1024
MAX_SECONDS = 3600.0
_PAGE = 4096


def _cpu(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def _memory(deadline: float, mib: int) -> None:
    block = bytearray(mib * MIB)
    # touch every page so the memory is resident, not just reserved
    for offset in range(0, len(block), _PAGE):
        block[offset] = 1
    while time.monotonic() < deadline:
        time.sleep(0.1)
    del block


def _disk(deadline: float, mib: int, path: Path) -> None:
    chunk = b"\0" * MIB
    try:
        with open(path, "wb") as handle:
            for _ in range(mib):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        while time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the hog child."""
    parser = argparse.ArgumentParser(prog="seawall-chaos-hog")
    parser.add_argument("kind", choices=("cpu", "memory", "disk"))
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--mib", type=int, default=0)
    parser.add_argument("--path", type=Path)
    args = parser.parse_args(argv)
    seconds = min(max(args.seconds, 0.0), MAX_SECONDS)
    deadline = time.monotonic() + seconds
    # SIGTERM unwinds through finally blocks, so a disk hog removes its file
    signal.signal(signal.SIGTERM, _stop)
    if args.kind == "cpu":
        limit = int(seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
        _cpu(deadline)
    elif args.kind == "memory":
        _memory(deadline, args.mib)
    else:
        if args.path is None:
            parser.error("disk needs --path")
        size = args.mib * MIB + MIB
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        _disk(deadline, args.mib, args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
