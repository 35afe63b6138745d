"""`seawall demo`: the drill on the demo stack — doctor, up, health, smoke, kill, data loss, latency, down."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seawall import clock
from seawall.config import StackConfig, load_stack
from seawall.demo import write_demo
from seawall.drill.dataloss import DataLossFigures, data_loss_step
from seawall.errors import NotReadyError, OperationError, SeawallError
from seawall.ops.doctor import run_doctor
from seawall.ops.health import check_health
from seawall.ops.lifecycle import down, up
from seawall.ops.smoke import run_smoke
from seawall.runtime import Runtime, shutdown
from seawall.store import open_store

Progress = Callable[[str, str], None]  # (step, message)

CHAOS_EDGE = "web->catalog"
CHAOS_PROBE = "web.ready"
CHAOS_MS = 800
CHAOS_SECONDS = 3.0  # long enough for several failing samples, short enough for a quick demo
STEADY_TIMEOUT = 15.0  # seconds to wait for the steady state before injecting


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the drill and how it went."""

    name: str
    ok: bool
    seconds: float
    detail: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"step": self.name, "ok": self.ok, "seconds": round(self.seconds, 3), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ChaosFigures:
    """What the chaos step measured on its steady-state probe, in seconds."""

    edge: str
    latency_ms: int
    status: str  # the run's status: "deviated" is what the demo expects
    time_to_impact: float | None  # injection -> first failing probe
    after_removal: float | None  # removal -> sustained recovery
    mttr: float | None  # first breach -> sustained recovery
    run_id: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "edge": self.edge,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "time_to_impact_seconds": r(self.time_to_impact),
            "recovery_after_removal_seconds": r(self.after_removal),
            "mttr_seconds": r(self.mttr),
            "run_id": self.run_id,
        }


@dataclass
class DemoReport:
    """Everything the demo measured."""

    directory: Path
    steps: list[Step] = field(default_factory=list)
    mttr: float | None = None
    mttr_objective: float | None = None
    chaos: ChaosFigures | None = None
    data_loss: DataLossFigures | None = None
    rto_objective: float | None = None
    rpo_objective: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Every step passed and the MTTR met its objective."""
        met = self.mttr is not None and (self.mttr_objective is None or self.mttr <= self.mttr_objective)
        return all(s.ok for s in self.steps) and met

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "mttr_seconds": None if self.mttr is None else round(self.mttr, 3),
            "mttr_objective_seconds": self.mttr_objective,
            "chaos": None if self.chaos is None else self.chaos.to_dict(),
            "data_loss": None if self.data_loss is None else self.data_loss.to_dict(),
            "rto_objective_seconds": self.rto_objective,
            "rpo_objective_seconds": self.rpo_objective,
            "error": self.error,
            "steps": [s.to_dict() for s in self.steps],
        }


async def measure_recovery(
    stack: StackConfig, runtime: Runtime, name: str, sig: int = signal.SIGKILL, timeout: float = 60.0
) -> tuple[float, str]:
    """Send ``sig`` to a component and time until its readiness probe passes on a new process."""
    from seawall.probes import run_probe

    spec = stack.components[name]
    probe = spec.probes.ready or spec.probes.live
    if probe is None:
        raise OperationError(f"cannot measure recovery of {name!r}: it has no readiness probe")
    before = runtime.status([name])[0]
    if before.state != "running" or before.pid is None:
        raise OperationError(f"cannot measure recovery of {name!r}: it is {before.state}")
    began = clock.monotonic()
    runtime.kill(name, sig)
    impact: float | None = None
    while clock.monotonic() - began < timeout:
        now = runtime.status([name])[0]
        result = await run_probe(probe)
        if not result.ok and impact is None:
            impact = clock.monotonic() - began
        if result.ok and now.pid not in (None, before.pid) and now.state == "running":
            mttr = clock.monotonic() - began
            seen = f"impact seen after {impact * 1000:.0f}ms, " if impact is not None else ""
            return mttr, f"{seen}pid {before.pid} -> {now.pid}, restarts {now.restart_count}"
        await asyncio.sleep(0.02)
    raise NotReadyError(name, timeout, "it did not recover after being killed")


def seconds(value: float | None) -> str:
    """A duration for people: milliseconds below one second (recoveries are often that quick)."""
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


async def wait_steady(stack: StackConfig, probe: str, timeout: float = STEADY_TIMEOUT) -> None:
    """Wait until ``component.role`` passes: an experiment starts from the steady state."""
    from seawall.probes import run_probe

    component, _, role = probe.partition(".")
    spec = dict(stack.components[component].probes.items())[role]
    deadline = clock.monotonic() + timeout
    while True:
        result = await run_probe(spec)
        if result.status.value == "pass":
            return
        if clock.monotonic() > deadline:
            raise NotReadyError(component, timeout, f"{probe} is {result.status.value}: {result.detail}")
        await asyncio.sleep(0.1)


def latency_step(
    stack: StackConfig,
    runtime_for: Callable[[StackConfig], Runtime],
    progress: Callable[[str], None],
) -> tuple[bool, str, ChaosFigures | None]:
    """800 ms on web -> catalog through the stack's proxy: ok when web.ready deviated, then recovered."""
    from seawall.chaos.experiment import RunStatus, build_journal, run_experiment, save_run
    from seawall.chaos.experiment.presets import latency_experiment
    from seawall.store import open_store

    asyncio.run(wait_steady(stack, CHAOS_PROBE))
    experiment = latency_experiment(CHAOS_EDGE, [CHAOS_PROBE], ms=CHAOS_MS, duration=CHAOS_SECONDS)
    record = run_experiment(experiment, stack, runtime_factory=runtime_for, progress=progress)
    with open_store(stack.state_dir) as store:
        save_run(store, build_journal(record), record.start)  # `seawall chaos list` shows it
    if record.status is RunStatus.INTERRUPTED:
        raise KeyboardInterrupt  # the runner restored its fault; the demo still brings the stack down
    fault = record.faults[0] if record.faults else None
    seen = fault.recoveries.get(CHAOS_PROBE) if fault is not None else None
    if fault is None or seen is None:
        notes = "; ".join(record.notes) or "no fault was injected"
        return False, f"{record.status.value}: {notes}", None
    figures = ChaosFigures(
        CHAOS_EDGE, CHAOS_MS, record.status.value, seen.time_to_impact, seen.after_removal, seen.mttr,
        record.run_id,
    )  # fmt: skip
    if seen.impact is None:
        return False, f"{record.status.value}: {CHAOS_PROBE} never breached under the fault", figures
    if seen.recovered is None or record.status is not RunStatus.DEVIATED:
        return False, f"{record.status.value}: {CHAOS_PROBE} breached but did not recover", figures
    detail = (
        f"{CHAOS_PROBE} breached {seconds(seen.time_to_impact)} after injection, recovered "
        f"{seconds(seen.after_removal)} after removal (MTTR {seconds(seen.mttr)})"
    )
    return True, detail, figures


class _Steps:
    """Runs named steps in order, recording each; the first failing step stops the sequence."""

    def __init__(self, report: DemoReport, progress: Progress) -> None:
        self.report = report
        self.progress = progress
        self.failed = False

    def __call__(self, name: str, action: Callable[[], tuple[bool, str]]) -> None:
        if self.failed:
            return
        began = clock.monotonic()
        try:
            ok, detail = action()
        except SeawallError as exc:
            ok, detail = False, str(exc)
            self.report.error = detail
        self.report.steps.append(Step(name, ok, clock.monotonic() - began, detail))
        self.progress(name, detail)
        self.failed = not ok


def run_demo(
    directory: Path, runtime_for: Callable[[StackConfig], Runtime], progress: Progress
) -> DemoReport:
    """Write the demo stack into ``directory`` and run the drill; the stack is always brought down."""
    stack = load_stack(write_demo(directory))
    goals = stack.objectives
    report = DemoReport(
        directory, mttr_objective=goals.mttr, rto_objective=goals.rto, rpo_objective=goals.rpo
    )
    runtime = runtime_for(stack)
    step = _Steps(report, progress)

    def doctor() -> tuple[bool, str]:
        checks = run_doctor(stack, runtime).checks
        fails = [c for c in checks if c.status == "fail"]
        first = f": {fails[0].name}: {fails[0].detail}" if fails else ""
        return not fails, f"{len(checks)} checks, {len(fails)} failed{first}"

    def start() -> tuple[bool, str]:
        started = up(stack, runtime, progress=lambda c, m: progress("up", f"{c}: {m}"))
        return True, f"{len(started.outcomes)} components ready in {started.seconds:.1f}s"

    def health() -> tuple[bool, str]:
        with open_store(stack.state_dir) as store:
            report_ = check_health(stack, runtime, store=store)
        return report_.exit_code == 0, f"stack is {report_.status.value}"

    def smoke() -> tuple[bool, str]:
        result = run_smoke(stack)
        return result.exit_code == 0, result.summary

    def kill_catalog() -> tuple[bool, str]:
        mttr, detail = asyncio.run(measure_recovery(stack, runtime, "catalog"))
        report.mttr = mttr
        with open_store(stack.state_dir) as store:
            store.record("mttr_measured", "catalog", seconds=mttr, signal="SIGKILL")
        within = stack.objectives.mttr is None or mttr <= stack.objectives.mttr
        return within, f"ready again after {mttr:.2f}s ({detail})"

    def data_loss() -> tuple[bool, str]:
        ok, detail, report.data_loss = data_loss_step(stack, runtime, lambda m: progress("data loss", m))
        return ok, detail

    def latency() -> tuple[bool, str]:
        ok, detail, report.chaos = latency_step(stack, runtime_for, lambda m: progress("chaos", m))
        return ok, detail

    def stop() -> tuple[bool, str]:
        try:
            down(stack, runtime)
        finally:
            shutdown(stack)  # also when down failed: nothing of the demo may keep running
        return True, "stopped; data kept"

    drill = [
        ("doctor", doctor),
        ("up", start),
        ("health", health),
        ("smoke", smoke),
        ("kill catalog (SIGKILL)", kill_catalog),
        ("lose the data, restore the backup", data_loss),
        (f"latency {CHAOS_EDGE} ({CHAOS_MS}ms)", latency),
    ]
    try:
        for name, action in drill:
            step(name, action)  # after a failing step the rest are skipped
    finally:
        step.failed = False  # bringing the stack down runs whatever happened before
        try:
            step("down", stop)
        finally:
            runtime.close()
    return report
