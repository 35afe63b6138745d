"""Process faults through the Runtime interface: kill with a signal, stop, restart, pause."""

from __future__ import annotations

import signal as signals
from typing import Any, ClassVar

from seawall.chaos.faults.base import ComponentFault, FaultContext, InjectionFailed, Inverse, RestoreFailed
from seawall.errors import SeawallError

_DEAD_STATES = ("stopped", "exited", "failed", "unknown")


def signal_number(value: str | int) -> int:
    """A signal from a name (``SIGKILL``, ``KILL``, ``kill``) or a number."""
    if isinstance(value, int):
        return int(signals.Signals(value))
    name = value.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    try:
        return int(signals.Signals[name])
    except KeyError:
        raise ValueError(f"unknown signal {value!r}") from None


class EnsureRunning:
    """Inverse of kill and restart: whatever happened, the component ends up running and not frozen."""

    kind: ClassVar[str] = "ensure_running"

    def __init__(self, component: str) -> None:
        self.component = component

    def __call__(self, ctx: FaultContext) -> str:
        try:
            status = ctx.runtime.status([self.component])[0]
            if status.state == "paused":
                ctx.runtime.resume(self.component)
                return f"resumed {self.component}"
            if status.state in _DEAD_STATES:
                ctx.runtime.start([self.component])
                return f"started {self.component} (it was {status.state})"
        except SeawallError as exc:
            raise RestoreFailed(f"cannot bring {self.component!r} back: {exc}") from exc
        return f"{self.component} is {status.state}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component}


class Start(EnsureRunning):
    """Inverse of stop: start the component again (a no-op when it runs)."""

    kind: ClassVar[str] = "start"


class Resume:
    """Inverse of pause: SIGCONT when the component is frozen; nothing when it runs or is gone."""

    kind: ClassVar[str] = "resume"

    def __init__(self, component: str) -> None:
        self.component = component

    def __call__(self, ctx: FaultContext) -> str:
        try:
            status = ctx.runtime.status([self.component])[0]
            if status.state in ("paused", "running"):
                # SIGCONT to a running group is harmless, and an unsupervised frozen process can
                # show as running until the supervisor adopts it
                ctx.runtime.resume(self.component)
                return f"resumed {self.component}"
        except SeawallError as exc:
            raise RestoreFailed(f"cannot resume {self.component!r}: {exc}") from exc
        return f"{self.component} is {status.state}: nothing to resume"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component}


class _ProcessFault(ComponentFault):
    def _running(self, ctx: FaultContext) -> None:
        try:
            status = ctx.runtime.status([self.component])[0]
        except SeawallError as exc:
            raise InjectionFailed(f"cannot {self.kind} {self.component!r}: {exc}") from exc
        if status.state != "running":
            raise InjectionFailed(f"cannot {self.kind} {self.component!r}: it is {status.state}")


class Kill(_ProcessFault):
    """Send a signal (SIGKILL by default) to the component; its restart policy decides what follows."""

    kind: ClassVar[str] = "kill"

    def __init__(self, fault_id: str, component: str, signal: str | int = "SIGKILL") -> None:
        super().__init__(fault_id, component)
        self.signal = signal_number(signal)

    def inverse(self) -> Inverse:
        return EnsureRunning(self.component)

    def __call__(self, ctx: FaultContext) -> str:
        self._running(ctx)
        try:
            ctx.runtime.kill(self.component, self.signal)
        except SeawallError as exc:
            raise InjectionFailed(f"cannot signal {self.component!r}: {exc}") from exc
        return f"sent {signals.Signals(self.signal).name} to {self.component}"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "signal": signals.Signals(self.signal).name}


class Stop(_ProcessFault):
    """Stop the component (SIGTERM, SIGKILL after the grace); it stays stopped until the inverse."""

    kind: ClassVar[str] = "stop"

    def inverse(self) -> Inverse:
        return Start(self.component)

    def __call__(self, ctx: FaultContext) -> str:
        self._running(ctx)
        try:
            ctx.runtime.stop([self.component])
        except SeawallError as exc:
            raise InjectionFailed(f"cannot stop {self.component!r}: {exc}") from exc
        return f"stopped {self.component}"


class Restart(_ProcessFault):
    """Restart the component gracefully."""

    kind: ClassVar[str] = "restart"

    def inverse(self) -> Inverse:
        return EnsureRunning(self.component)

    def __call__(self, ctx: FaultContext) -> str:
        self._running(ctx)
        try:
            ctx.runtime.restart(self.component)
        except SeawallError as exc:
            raise InjectionFailed(f"cannot restart {self.component!r}: {exc}") from exc
        return f"restarted {self.component}"


class Pause(_ProcessFault):
    """Freeze the component (SIGSTOP); the inverse thaws it."""

    kind: ClassVar[str] = "pause"

    def inverse(self) -> Inverse:
        return Resume(self.component)

    def __call__(self, ctx: FaultContext) -> str:
        self._running(ctx)
        try:
            ctx.runtime.pause(self.component)
        except SeawallError as exc:
            raise InjectionFailed(f"cannot pause {self.component!r}: {exc}") from exc
        return f"paused {self.component}"


__all__ = ["EnsureRunning", "Kill", "Pause", "Restart", "Resume", "Start", "Stop", "signal_number"]
