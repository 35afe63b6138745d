"""One component process: checking its command, spawning it in its own session, signalling, adopting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from seawall import clock
from seawall.config import ComponentSpec, StackConfig
from seawall.runtime._limits import LimitPlan


def component_env(spec: ComponentSpec, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a component: the supervisor's, overridden by the component's."""
    return {**(os.environ if base is None else base), **spec.env}


def command_problem(stack: StackConfig, name: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why a component's command cannot run (None if it looks runnable)."""
    spec = stack.components[name]
    if not spec.command:
        return "no command: the local runtime needs `command`"
    cwd = stack.resolve(spec.cwd or ".")
    if not cwd.is_dir():
        return f"working directory not found: {cwd}"
    program = spec.command[0]
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        if not path.exists():
            return f"command not found: {program}"
        if not (path.is_file() and os.access(path, os.X_OK)):
            return f"command not executable: {program}"
        return None
    search = component_env(spec, env).get("PATH", os.defpath)
    if shutil.which(program, path=search) is None:
        return f"command not found: {program}"
    return None


class Child:
    """A component process: spawned by this supervisor (waitable) or adopted from a previous one."""

    def __init__(
        self, pid: int, create_time: float, started_at: float, popen: subprocess.Popen[bytes] | None
    ):
        self.pid = pid
        self.create_time = create_time
        self.started_at = started_at
        self._popen = popen
        self.returncode: int | None = None
        self.exited = False

    @property
    def adopted(self) -> bool:
        """Whether the process was started by an earlier supervisor (no exit code is known then)."""
        return self._popen is None

    @classmethod
    def spawn(cls, argv: list[str], cwd: Path, env: dict[str, str], log: Path, limits: LimitPlan) -> Child:
        """Start ``argv`` in a new session (its own process group), output appended to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=limits.preexec(),  # noqa: PLW1509 - it only sets rlimits and joins cgroups
                close_fds=True,
            )
        try:
            created = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            created = 0.0
        return cls(popen.pid, created, clock.now(), popen)

    @classmethod
    def adopt(cls, record: Mapping[str, Any]) -> Child | None:
        """The process a run record describes, if it is still that same process."""
        try:
            pid = int(record["pid"])
            proc = psutil.Process(pid)
            if abs(proc.create_time() - float(record["create_time"])) > 0.5:
                return None  # the pid was reused by an unrelated process
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except (KeyError, TypeError, ValueError, psutil.Error):
            return None
        return cls(pid, float(record["create_time"]), float(record.get("started_at", 0.0)), None)

    def poll(self) -> bool:
        """Whether the process has exited (sets ``returncode`` when known)."""
        if self.exited:
            return True
        if self._popen is not None:
            code = self._popen.poll()
            if code is None:
                return False
            self.returncode = code
        else:
            try:
                proc = psutil.Process(self.pid)
                alive = (
                    abs(proc.create_time() - self.create_time) <= 0.5
                    and proc.status() != psutil.STATUS_ZOMBIE
                )
            except psutil.Error:
                alive = False
            if alive:
                return False
        self.exited = True
        return True

    def paused(self) -> bool:
        """Whether the process is stopped by SIGSTOP."""
        try:
            return psutil.Process(self.pid).status() == psutil.STATUS_STOPPED
        except psutil.Error:
            return False

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole process group; False if nothing was there to receive it."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False
        return True

    def kill_leftovers(self) -> None:
        """SIGKILL what remains of the group once the main process is gone (helpers, grandchildren)."""
        self.signal_group(signal.SIGKILL)

    def record(self, **extra: object) -> dict[str, object]:
        """The run record written for adoption by a later supervisor."""
        return {"pid": self.pid, "create_time": self.create_time, "started_at": self.started_at, **extra}


def write_run_record(path: Path, record: Mapping[str, object]) -> None:
    """Atomically write a run record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def read_run_record(path: Path) -> dict[str, Any] | None:
    """A run record, or None if it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove_run_record(path: Path) -> None:
    """Forget a run record."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def log_marker(log: Path, message: str) -> None:
    """Append a timestamped supervisor line to a component's log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"{clock.iso(clock.now())} seawall: {message}\n")
