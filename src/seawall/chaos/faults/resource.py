"""Resource faults: CPU burn, memory pressure and disk fill, each in bounded child processes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil

from seawall.chaos.faults._hog import MAX_SECONDS, MIB
from seawall.chaos.faults.base import FaultContext, InjectionFailed, Inverse, RestoreFailed

HOG_MODULE = "seawall.chaos.faults._hog"
KILL_WAIT = 3.0  # seconds a hog gets to exit on SIGTERM before SIGKILL
DISK_RESERVE = 0.05  # a disk fill never leaves less than this share of the filesystem free
FILL_PREFIX = ".seawall-chaos-fill-"

# Children started by this process, so the inverse can reap them (no zombies, no ResourceWarning).
_children: dict[str, list[subprocess.Popen[bytes]]] = {}
_lock = threading.Lock()


def _hogs(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if HOG_MODULE in cmdline and token in cmdline:
            found.append(proc)
    return found


class KillHogs:
    """Inverse of every resource fault: end the fault's children and delete its fill file."""

    kind: ClassVar[str] = "kill_hogs"

    def __init__(self, token: str, path: str | None = None) -> None:
        self.token = token
        self.path = path

    def __call__(self, ctx: FaultContext) -> str:
        procs = _hogs(self.token)
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=KILL_WAIT)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        _, still = psutil.wait_procs(alive, timeout=KILL_WAIT)
        with _lock:
            mine = _children.pop(self.token, [])
        for child in mine:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=KILL_WAIT)
        if still:
            raise RestoreFailed(f"resource fault {self.token}: pids {[p.pid for p in still]} survive SIGKILL")
        removed = ""
        if self.path is not None:
            try:
                Path(self.path).unlink()
                removed = f", removed {self.path}"
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise RestoreFailed(f"cannot remove the fill file {self.path}: {exc}") from exc
        return f"ended {len(procs)} hog process(es){removed}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "token": self.token, "path": self.path}


class _ResourceFault:
    kind: ClassVar[str] = ""
    hog: ClassVar[str] = ""

    def __init__(self, fault_id: str, seconds: float) -> None:
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"a {self.kind} fault needs a duration above 0 and at most {MAX_SECONDS:g}s")
        self.id = fault_id
        self.seconds = seconds

    @property
    def token(self) -> str:
        return f"seawall-chaos-{self.id}"

    @property
    def target(self) -> str:
        return "host"

    def _file(self) -> str | None:
        return None

    def inverse(self) -> Inverse:
        return KillHogs(self.token, self._file())

    def _spawn(self, count: int, *extra: str) -> None:
        argv = [
            sys.executable,
            "-m",
            HOG_MODULE,
            self.hog,
            "--token",
            self.token,
            "--seconds",
            f"{self.seconds}",
        ]
        started: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(count):
                started.append(
                    subprocess.Popen(
                        [*argv, *extra],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,  # a Ctrl-C meant for the runner must go through the ledger
                    )
                )
        except OSError as exc:
            raise InjectionFailed(f"cannot start the {self.kind} fault: {exc}") from exc
        finally:
            with _lock:
                _children.setdefault(self.token, []).extend(started)
        time.sleep(0.05)
        failed = [c.returncode for c in started if c.poll() not in (None, 0)]
        if failed:
            raise InjectionFailed(f"the {self.kind} fault's process exited at once (code {failed[0]})")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seconds": self.seconds}


class CpuBurn(_ResourceFault):
    """Keep ``cores`` cores busy for ``seconds`` (one bounded child per core)."""

    kind: ClassVar[str] = "cpu"
    hog: ClassVar[str] = "cpu"

    def __init__(self, fault_id: str, cores: int, seconds: float) -> None:
        super().__init__(fault_id, seconds)
        available = psutil.cpu_count() or 1
        if not 1 <= cores <= available:
            raise ValueError(f"cores must be between 1 and {available} (this machine's count)")
        self.cores = cores

    def __call__(self, ctx: FaultContext) -> str:
        self._spawn(self.cores)
        return f"burning {self.cores} core(s) for {self.seconds:g}s"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "cores": self.cores}


class MemoryPressure(_ResourceFault):
    """Hold ``mib`` MiB of resident memory for ``seconds``."""

    kind: ClassVar[str] = "memory"
    hog: ClassVar[str] = "memory"

    def __init__(self, fault_id: str, mib: int, seconds: float) -> None:
        super().__init__(fault_id, seconds)
        available = psutil.virtual_memory().available // MIB
        if not 1 <= mib <= available // 2:
            raise ValueError(f"mib must be between 1 and {available // 2} (half of the memory available now)")
        self.mib = mib

    def __call__(self, ctx: FaultContext) -> str:
        self._spawn(1, "--mib", str(self.mib))
        return f"holding {self.mib} MiB for {self.seconds:g}s"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "mib": self.mib}


class DiskFill(_ResourceFault):
    """Write a ``mib`` MiB file into the directory ``path`` for ``seconds``, then remove it."""

    kind: ClassVar[str] = "disk_fill"
    hog: ClassVar[str] = "disk"

    def __init__(self, fault_id: str, path: str, mib: int, seconds: float) -> None:
        super().__init__(fault_id, seconds)
        if mib < 1:
            raise ValueError("mib must be at least 1")
        self.directory = Path(path)
        self.mib = mib

    def _file(self) -> str:
        return str(self.directory / f"{FILL_PREFIX}{self.id}")

    def __call__(self, ctx: FaultContext) -> str:
        try:
            usage = shutil.disk_usage(self.directory)
        except OSError as exc:
            raise InjectionFailed(f"cannot fill {self.directory}: {exc}") from exc
        if usage.free - self.mib * MIB < usage.total * DISK_RESERVE:
            raise InjectionFailed(
                f"filling {self.mib} MiB would leave less than {DISK_RESERVE:.0%} of {self.directory} free"
            )
        self._spawn(1, "--mib", str(self.mib), "--path", self._file())
        return f"filling {self._file()} with {self.mib} MiB for {self.seconds:g}s"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "path": str(self.directory), "mib": self.mib}


__all__ = ["CpuBurn", "DiskFill", "KillHogs", "MemoryPressure"]
