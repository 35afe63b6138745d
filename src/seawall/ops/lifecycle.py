"""Bringing a stack up in dependency order gated on readiness, and down again keeping its data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from seawall import clock
from seawall.config import ComponentSpec, ProbeSpec, StackConfig
from seawall.config.graph import with_dependencies
from seawall.errors import NotReadyError, UsageError
from seawall.probes import ProbeResult, run_probe
from seawall.runtime import ComponentStatus, Runtime

Progress = Callable[[str, str], None]  # (component, message)


def _quiet(component: str, message: str) -> None:
    """Default progress sink: say nothing."""


@dataclass(frozen=True, slots=True)
class StartOutcome:
    """What `up` did to one component."""

    component: str
    action: str  # started | already running | completed
    seconds: float
    ready_detail: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"component": self.component, "action": self.action, "seconds": round(self.seconds, 3)}


@dataclass
class UpReport:
    """The result of `seawall up`."""

    outcomes: list[StartOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"seconds": round(self.seconds, 3), "components": [o.to_dict() for o in self.outcomes]}


def is_managed(stack: StackConfig, name: str) -> bool:
    """Whether the runtime runs this component (a local component without a command runs elsewhere)."""
    return stack.runtime != "local" or stack.components[name].command is not None


def check_names(stack: StackConfig, names: Sequence[str]) -> list[str]:
    """The named components (all if none), validated against the stack."""
    unknown = [n for n in names if n not in stack.components]
    if unknown:
        known = ", ".join(stack.components) or "(none)"
        raise UsageError(f"unknown component {unknown[0]!r}; the stack has: {known}")
    return list(names) or list(stack.components)


def up(
    stack: StackConfig,
    runtime: Runtime,
    names: Sequence[str] = (),
    progress: Progress = _quiet,
    dependencies: bool = True,
) -> UpReport:
    """Start the components (and what they depend on) wave by wave, each wave gated on readiness.

    ``dependencies=False``: the named components only (a restore restarting what it stopped).
    """
    named = check_names(stack, names)
    wanted = with_dependencies(stack.dependencies(), named) if dependencies else set(named)
    report = UpReport()
    began = clock.monotonic()
    for wave in stack.waves():
        members = [n for n in wave if n in wanted]
        if not members:
            continue
        managed = [n for n in members if is_managed(stack, n)]
        current = {s.name: s for s in runtime.status(managed)} if managed else {}
        to_start = [n for n in members if n not in current or not _is_up(current[n], stack.components[n])]
        for name in members:
            if name not in to_start:
                progress(name, "already running")
                report.outcomes.append(StartOutcome(name, "already running", 0.0))
        if not to_start:
            continue
        for name in to_start:
            progress(name, "starting")
        started = clock.monotonic()
        # components without a command are run elsewhere: only their probes are waited on
        runnable = [n for n in to_start if n in current]
        if runnable:  # start(()) means every component, command-less ones included
            runtime.start(runnable)
        details = asyncio.run(_wait_all(stack, runtime, to_start, progress))
        for name, detail in zip(to_start, details, strict=True):
            action = "completed" if stack.components[name].one_shot else "started"
            report.outcomes.append(StartOutcome(name, action, clock.monotonic() - started, detail))
    report.seconds = clock.monotonic() - began
    return report


def _is_up(status: ComponentStatus, spec: ComponentSpec) -> bool:
    if spec.one_shot:
        return status.state == "completed"
    return status.state in ("running", "paused")


async def _wait_all(
    stack: StackConfig, runtime: Runtime, names: Sequence[str], progress: Progress
) -> list[str]:
    return list(await asyncio.gather(*(wait_ready(stack, runtime, n, progress) for n in names)))


async def wait_ready(stack: StackConfig, runtime: Runtime, name: str, progress: Progress = _quiet) -> str:
    """Wait until one component is ready (startup then readiness probe), or raise NotReadyError."""
    spec = stack.components[name]
    managed = is_managed(stack, name)
    deadline = clock.monotonic() + spec.start_timeout
    gates = [p for p in (spec.probes.startup, spec.probes.ready) if p is not None]
    last = "never checked"
    for probe in gates:
        if probe.initial_delay:
            await asyncio.sleep(probe.initial_delay)
        passes = 0
        while passes < probe.success_threshold:
            if managed:
                status = (await asyncio.to_thread(runtime.status, [name]))[0]
                _fail_fast(stack, name, status)
            result = await run_probe(probe)
            last = result.detail or result.status.value
            passes = passes + 1 if result.ok else 0
            if passes >= probe.success_threshold:
                break
            if clock.monotonic() + probe.period > deadline:
                raise NotReadyError(name, spec.start_timeout, f"last probe: {last}")
            await asyncio.sleep(_poll_interval(probe))
    if managed and (spec.one_shot or not gates):
        return await _wait_process(stack, runtime, name, deadline)
    progress(name, "ready")
    return last


def _poll_interval(probe: ProbeSpec) -> float:
    # while starting, poll faster than the steady-state period so `up` does not idle
    return min(probe.period, 0.25)


async def _wait_process(stack: StackConfig, runtime: Runtime, name: str, deadline: float) -> str:
    """No probes (or a one-shot job): running, or completed for a job, is what counts."""
    spec = stack.components[name]
    while True:
        status = (await asyncio.to_thread(runtime.status, [name]))[0]
        _fail_fast(stack, name, status)
        if spec.one_shot and status.state == "completed":
            return "completed successfully"
        if not spec.one_shot and status.state == "running":
            return "running (no readiness probe)"
        if clock.monotonic() > deadline:
            raise NotReadyError(name, spec.start_timeout, f"state is {status.state}")
        await asyncio.sleep(0.1)


def _fail_fast(stack: StackConfig, name: str, status: ComponentStatus) -> None:
    # a process that has given up will never become ready: say so now, not at the timeout
    spec = stack.components[name]
    if status.state in ("failed", "exited") or (status.state == "stopped" and not spec.one_shot):
        code = f" (exit code {status.last_exit_code})" if status.last_exit_code is not None else ""
        detail = status.detail or f"it is {status.state}{code}"
        raise NotReadyError(name, spec.start_timeout, detail)


def down(
    stack: StackConfig, runtime: Runtime, names: Sequence[str] = (), progress: Progress = _quiet
) -> None:
    """Stop components in reverse dependency order; data is never touched."""
    chosen = set(check_names(stack, names))
    for wave in reversed(stack.waves()):
        members = [n for n in wave if n in chosen and is_managed(stack, n)]
        if members:
            for name in members:
                progress(name, "stopping")
            runtime.stop(members)
            for name in members:
                progress(name, "stopped")


async def probe_all(stack: StackConfig, names: Sequence[str]) -> dict[tuple[str, str], ProbeResult]:
    """Run every probe of the named components once, concurrently."""
    from seawall.probes import ProbeTarget, run_probes

    items = [
        (ProbeTarget(name, role), spec)
        for name in names
        for role, spec in stack.components[name].probes.items()
    ]
    results = await run_probes(items)
    return {(t.component, t.role): r for t, r in results}
