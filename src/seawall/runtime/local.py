"""The local runtime: components as local processes, supervised by a per-stack daemon."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from seawall.config import StackConfig
from seawall.errors import DaemonUnavailable, RuntimeDriverError, SeawallError, UsageError
from seawall.runtime._edges import stack_proxy_api
from seawall.runtime._process import Child, command_problem, read_run_record
from seawall.runtime._protocol import (
    MAX_SOCKET_PATH,
    StatePaths,
    decode,
    encode,
    status_from_dict,
)
from seawall.runtime.base import ComponentStatus

DAEMON_START_TIMEOUT = 20.0  # seconds for a new supervisor to answer its first ping
REQUEST_TIMEOUT = 30.0  # seconds for a request that does not wait on processes
FOLLOW_POLL = 0.1  # seconds between checks for new log lines

_ERRORS: dict[str, type[SeawallError]] = {
    "UsageError": UsageError,
    "RuntimeDriverError": RuntimeDriverError,
    "DaemonUnavailable": DaemonUnavailable,
}


def _request(paths: StatePaths, op: str, timeout: float = REQUEST_TIMEOUT, **args: Any) -> Any:
    """Send one request to the supervisor and return its result; DaemonUnavailable if none answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(paths.socket))
            sock.sendall(encode({"op": op, **args}))
            buffer = b""
            while not buffer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise DaemonUnavailable(f"the supervisor of this stack is not running ({paths.socket})") from exc
    except OSError as exc:
        raise DaemonUnavailable(f"the supervisor did not answer {op!r}: {exc}") from exc
    if not buffer:
        raise DaemonUnavailable(f"the supervisor closed the connection during {op!r}")
    response = decode(buffer)
    if not response.get("ok"):
        raise _ERRORS.get(str(response.get("type")), RuntimeDriverError)(str(response.get("error")))
    return response.get("result")


def daemon_pid(stack: StackConfig) -> int | None:
    """The pid of the stack's supervisor if one answers, else None."""
    try:
        return int(_request(StatePaths(stack.state_dir), "ping", timeout=5.0)["pid"])
    except DaemonUnavailable:
        return None


def fault_proxy_api(stack: StackConfig) -> str | None:
    """The control API of the fault proxy the stack's supervisor hosts (a stack with edges), or None."""
    return stack_proxy_api(stack.state_dir)


def _log_tail(paths: StatePaths, lines: int = 5) -> str:
    try:
        text = paths.daemon_log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def ensure_daemon(stack: StackConfig) -> int:
    """Start the stack's supervisor unless one answers; returns its pid.

    A stale socket or pidfile from a killed daemon is harmless: the new daemon takes the pidfile
    lock (which died with the old one) and replaces the socket.
    """
    paths = StatePaths(stack.state_dir)
    pid = daemon_pid(stack)
    if pid is not None:
        return pid
    if stack.source is None:
        raise DaemonUnavailable("the local runtime needs a stack loaded from a file (seawall.yaml)")
    if len(str(paths.socket)) > MAX_SOCKET_PATH:
        raise DaemonUnavailable(
            f"the state directory path is too long for a unix socket: {paths.socket}",
            hint="set `state: {path: ...}` in seawall.yaml to a shorter directory",
        )
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "seawall.runtime._daemon", "--config", str(stack.source), "--detach"]
    launcher = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=DAEMON_START_TIMEOUT,
        check=False,
    )
    if launcher.returncode not in (0, 3):  # 3: another client started it a moment ago
        raise DaemonUnavailable(f"the supervisor could not start: {launcher.stderr.strip()}")
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while time.monotonic() < deadline:
        pid = daemon_pid(stack)
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise DaemonUnavailable(
        f"the supervisor did not answer within {DAEMON_START_TIMEOUT:g}s; its log says:\n" + _log_tail(paths)
    )


def _pidfile_locked(paths: StatePaths) -> bool:
    try:
        with open(paths.pidfile, encoding="ascii") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False


def _retry_shutdown(paths: StatePaths, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _request(paths, "shutdown")
        except DaemonUnavailable:
            time.sleep(0.1)
        else:
            return True
    return False


def _terminate_pidfile_owner(paths: StatePaths) -> None:
    # SIGTERM gets the daemon's own graceful shutdown: it stops every component first
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(paths.pidfile.read_text(encoding="ascii").split()[0]), signal.SIGTERM)


def shutdown_daemon(stack: StackConfig, timeout: float | None = None) -> bool:
    """Stop the stack's supervisor (it stops every component first); False if none was running."""
    paths = StatePaths(stack.state_dir)
    grace = max((c.stop_grace for c in stack.components.values()), default=0.0)
    wait = timeout if timeout is not None else grace + 30.0
    try:
        _request(paths, "shutdown")
    except DaemonUnavailable:
        if not _pidfile_locked(paths):
            return False
        # alive but not answering: still starting (Ctrl-C during `up`) or wedged
        if not _retry_shutdown(paths, within=10.0):
            _terminate_pidfile_owner(paths)
    deadline = time.monotonic() + wait
    while _pidfile_locked(paths):
        if time.monotonic() > deadline:
            raise DaemonUnavailable(f"the supervisor did not exit within {wait:g}s")
        time.sleep(0.05)
    return True


def _offline_status(stack: StackConfig, paths: StatePaths, name: str) -> ComponentStatus:
    record = read_run_record(paths.run_record(name))
    child = Child.adopt(record) if record is not None else None
    if child is not None:
        return ComponentStatus(
            name,
            "running",
            pid=child.pid,
            started_at=child.started_at,
            restart_count=int(record.get("restart_count", 0)) if record else 0,
            detail="the supervisor is not running; the next command adopts this process",
        )
    if paths.log(name).exists():
        return ComponentStatus(name, "stopped", detail="the supervisor is not running")
    return ComponentStatus(name, "unknown", detail="never started")


class LocalRuntime:
    """The Runtime protocol for local processes; a thin client of the stack's supervisor daemon."""

    name = "local"

    def __init__(self, stack: StackConfig) -> None:
        self.stack = stack
        self.paths = StatePaths(stack.state_dir)

    def _names(self, names: Sequence[str]) -> list[str]:
        unknown = [n for n in names if n not in self.stack.components]
        if unknown:
            raise UsageError(
                f"unknown component {unknown[0]!r}; the stack has: {', '.join(self.stack.components)}"
            )
        return list(names) or list(self.stack.components)

    def _orphans(self) -> bool:
        return any(self.paths.run_record(n).exists() for n in self.stack.components)

    def _grace(self, names: Sequence[str], grace: float | None) -> float:
        if grace is not None:
            return grace
        return max((self.stack.components[n].stop_grace for n in names), default=0.0)

    def available(self) -> tuple[bool, str]:
        """Local processes work on any POSIX machine, given a stack file and a short state path."""
        if not sys.platform.startswith(("linux", "darwin")):
            return False, f"the local runtime needs Linux or macOS, not {sys.platform}"
        if self.stack.source is None:
            return False, "the local runtime needs a stack loaded from a file"
        if len(str(self.paths.socket)) > MAX_SOCKET_PATH:
            return False, f"state directory path too long for a unix socket: {self.paths.socket}"
        return True, "local processes under the seawall supervisor"

    def ensure_daemon(self) -> int:
        """Start the supervisor unless it runs; returns its pid."""
        return ensure_daemon(self.stack)

    def shutdown_daemon(self) -> bool:
        """Stop every component and the supervisor."""
        return shutdown_daemon(self.stack)

    def proxy_api(self) -> str | None:
        """The control API of the stack's fault proxy while the supervisor runs one."""
        return fault_proxy_api(self.stack)

    def start(self, names: Sequence[str]) -> None:
        """Start the named components that are not running (idempotent); never gates on readiness."""
        chosen = self._names(names)
        problems = {n: p for n in chosen if (p := command_problem(self.stack, n)) is not None}
        if len(problems) < len(chosen) or daemon_pid(self.stack) is not None:
            # the supervisor also checks, so a bad command shows as "failed" in status
            ensure_daemon(self.stack)
            problems.update(_request(self.paths, "start", names=chosen) or {})
        if problems:
            name, problem = next(iter(problems.items()))
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise RuntimeDriverError(f"cannot start component {name!r}: {problem}{more}")

    def stop(self, names: Sequence[str] = (), grace: float | None = None) -> None:
        """SIGTERM each group, SIGKILL after the grace; stopped components stay stopped."""
        chosen = self._names(names)
        if daemon_pid(self.stack) is None:
            if not self._orphans():
                return  # nothing runs: stopping is already done
            ensure_daemon(self.stack)  # it adopts the orphans, so it can stop them
        timeout = self._grace(chosen, grace) + 20.0
        _request(self.paths, "stop", timeout=timeout, names=chosen, grace=grace)

    def _op(self, op: str, name: str, timeout: float = REQUEST_TIMEOUT, **args: Any) -> None:
        self._names([name])
        if daemon_pid(self.stack) is None and (op == "restart" or self._orphans()):
            ensure_daemon(self.stack)
        _request(self.paths, op, timeout=timeout, name=name, **args)

    def kill(self, name: str, signal: int) -> None:
        """Send ``signal`` to the component's process group; the restart policy then applies."""
        self._op("kill", name, signal=int(signal))

    def pause(self, name: str) -> None:
        """SIGSTOP the component's process group."""
        self._op("pause", name)

    def resume(self, name: str) -> None:
        """SIGCONT the component's process group."""
        self._op("resume", name)

    def restart(self, name: str) -> None:
        """Stop gracefully, start again, count the restart."""
        self._op("restart", name, timeout=self._grace([name], None) + 20.0)

    def status(self, names: Sequence[str] = ()) -> list[ComponentStatus]:
        """Status from the supervisor; without one, what the run records and logs show."""
        chosen = self._names(names)
        try:
            data = _request(self.paths, "status", names=chosen)
        except DaemonUnavailable:
            return [_offline_status(self.stack, self.paths, n) for n in chosen]
        return [status_from_dict(item) for item in data]

    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        """Lines of the component's log; with ``follow``, new lines until the caller stops iterating."""
        self._names([name])
        return _read_log(self.paths, name, tail, follow)

    def close(self) -> None:
        """Nothing to release: every request uses its own connection; components keep running."""


def _read_log(paths: StatePaths, name: str, tail: int | None, follow: bool) -> Iterator[str]:
    path = paths.log(name)
    while not path.exists():
        if not follow:
            return
        time.sleep(FOLLOW_POLL)
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = iter(handle.readline, "")
        kept = lines if tail is None else deque(lines, maxlen=max(tail, 0))
        yield from (line.rstrip("\n") for line in kept)
        if not follow:
            return
        partial = ""
        while True:
            chunk = handle.readline()
            if not chunk:
                with contextlib.suppress(OSError):
                    if path.stat().st_size < handle.tell():
                        handle.seek(0)  # truncated: start over
                time.sleep(FOLLOW_POLL)
                continue
            partial += chunk
            if partial.endswith("\n"):
                yield partial.rstrip("\n")
                partial = ""
