"""The runtime interface: how Seawall starts, stops, signals and inspects a stack's components."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from seawall.config import StackConfig

State = Literal[
    "running",  # process alive
    "starting",  # spawn in progress (compose: created)
    "backoff",  # exited; waiting to be restarted by its policy
    "paused",  # SIGSTOP / container paused
    "stopped",  # stopped on purpose (down/stop)
    "exited",  # exited and will not be restarted (policy no / retries exhausted)
    "completed",  # one-shot component that exited 0
    "failed",  # could not be started at all (e.g. command not found)
    "unknown",  # never started / not known to the runtime
]


@dataclass(frozen=True, slots=True)
class LimitState:
    """One resource limit and whether the OS actually enforces it for this component."""

    name: str  # memory | cpus | open_files
    value: str
    enforced: bool
    how: str  # e.g. "RLIMIT_AS", "cgroup v1 cpu.cfs_quota_us", "not enforceable: ..."


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """What a runtime knows about one component right now."""

    name: str
    state: State
    pid: int | None = None
    started_at: float | None = None  # epoch seconds of the current process start
    restart_count: int = 0
    last_exit_code: int | None = None  # negative: killed by that signal
    limits: tuple[LimitState, ...] = ()
    detail: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        """The component's process exists (running or paused)."""
        return self.state in ("running", "paused", "starting")


class Runtime(Protocol):
    """A way of running components: local processes, compose, (later) Kubernetes.

    Every method takes component names that exist in the stack; ``names=()`` means all.
    Methods raise ``seawall.errors.RuntimeDriverError`` / ``DaemonUnavailable`` on failure.
    """

    name: str

    def available(self) -> tuple[bool, str]:
        """Whether this runtime can work on this machine, and why not."""
        ...

    def start(self, names: Sequence[str]) -> None:
        """Start the named components that are not running; do not wait for readiness."""
        ...

    def stop(self, names: Sequence[str] = (), grace: float | None = None) -> None:
        """SIGTERM, then SIGKILL after the grace period; stopped components stay stopped."""
        ...

    def kill(self, name: str, signal: int) -> None:
        """Send any signal; the restart policy then applies as to any other exit."""
        ...

    def pause(self, name: str) -> None:
        """Freeze the component (SIGSTOP / container pause)."""
        ...

    def resume(self, name: str) -> None:
        """Thaw a paused component (SIGCONT / container unpause)."""
        ...

    def restart(self, name: str) -> None:
        """Stop (gracefully) and start again; counts as a restart."""
        ...

    def status(self, names: Sequence[str] = ()) -> list[ComponentStatus]:
        """Status of the named components (all if empty), in config order."""
        ...

    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        """Lines of the component's log (stdout and stderr), oldest first."""
        ...

    def close(self) -> None:
        """Release connections; never stops components."""
        ...


class RuntimeFactory(Protocol):
    """Builds a runtime for a stack (registered by name in ``seawall.runtime``)."""

    def __call__(self, stack: StackConfig) -> Runtime: ...
