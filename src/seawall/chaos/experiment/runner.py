"""Running an experiment: steady state, method through the ledger, recovery, and restore that always runs."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypedDict, Unpack

from seawall import clock
from seawall.chaos.experiment.activities import ActivityResult, run_activity
from seawall.chaos.experiment.model import Experiment
from seawall.chaos.experiment.monitor import Monitor
from seawall.chaos.experiment.plan import Plan, PlannedFault, plan_experiment
from seawall.chaos.experiment.stats import Recovery, measure
from seawall.chaos.experiment.traffic import TrafficPhases
from seawall.chaos.experiment.verdict import EXIT_CODES, Facts, RunStatus, verdict
from seawall.chaos.faults import FaultContext, InjectionFailed
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import inject, replay, restore_run
from seawall.config import StackConfig
from seawall.runtime import Runtime, get_runtime

Progress = Callable[[str], None]
INSTANT_KINDS = ("kill", "restart")  # over as soon as applied: recovery is measured from injection


class Terminated(BaseException):
    """SIGTERM arrived; like KeyboardInterrupt, it must not be swallowed by `except Exception`."""


class GuardTripped(Exception):
    """A guard failed: abort the method and restore."""


@dataclass
class FaultRun:
    """One injected fault: when it went in and out, and what each steady-state probe saw."""

    planned: PlannedFault
    started: float  # wall clock
    injected_at: float | None = None  # monotonic
    removed_at: float | None = None
    detail: str = ""
    removal: str = ""
    error: str = ""
    recoveries: dict[str, Recovery] = field(default_factory=dict)


@dataclass
class RunRecord:
    """Everything a run produced; the journal, JUnit and Markdown are rendered from it."""

    run_id: str
    experiment: Experiment
    plan: Plan
    start: float
    end: float = 0.0
    status: RunStatus = RunStatus.PASSED
    facts: Facts = field(default_factory=Facts)
    before: list[ActivityResult] = field(default_factory=list)
    after: list[ActivityResult] = field(default_factory=list)
    run: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[ActivityResult] = field(default_factory=list)
    faults: list[FaultRun] = field(default_factory=list)
    samples: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    restore: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mono_start: float = 0.0
    statistics: dict[str, Any] | None = None  # generated traffic per phase (journal form), if asked

    @property
    def exit_code(self) -> int:
        """The status's exit code."""
        return EXIT_CODES[self.status]


@contextmanager
def _signals(enabled: bool) -> Iterator[list[str]]:
    """SIGTERM raises Terminated (SIGINT already raises KeyboardInterrupt) in the main thread."""
    received: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        received.append("SIGTERM")
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _shielded(enabled: bool, received: list[str]) -> Iterator[None]:
    """While restoring, Ctrl-C and SIGTERM are noted, not obeyed: the restore is bounded and must finish."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Runner:
    """Runs one experiment against one stack; ``run()`` never leaves a fault behind while it lives."""

    def __init__(
        self,
        experiment: Experiment,
        stack: StackConfig,
        *,
        seed: int | None = None,
        runtime_factory: Callable[[StackConfig], Runtime] = get_runtime,
        progress: Progress = lambda message: None,
        handle_signals: bool = True,
    ) -> None:
        self.experiment = experiment
        self.stack = stack
        self.plan = plan_experiment(experiment, stack, seed)
        self.progress = progress
        self.handle_signals = handle_signals
        self.ctx = FaultContext(stack, runtime_factory, self.plan.proxy_api)
        self.record = RunRecord(uuid.uuid4().hex[:12], experiment, self.plan, clock.now())
        settings = experiment.runtime
        self.monitor = Monitor(
            stack, experiment.steady_state.probes, experiment.guards, settings.probe_interval
        )
        self._failed_actions: list[str] = []
        hypothesis = experiment.steady_state
        self.traffic = TrafficPhases(hypothesis, progress) if hypothesis.statistical else None

    # the phases -----------------------------------------------------------------------------------

    def run(self) -> RunRecord:
        """Before, method, recovery; then inverses and rollbacks whatever happened."""
        rec = self.record
        rec.mono_start = clock.monotonic()
        facts: dict[str, bool] = {"strict": self.experiment.runtime.hypothesis == "strict"}
        with Ledger(self.stack.state_dir) as ledger, _signals(self.handle_signals) as received:
            try:
                rec.before = self._hypothesis("before")
                facts["before_ok"] = all(r.ok for r in rec.before)
                if facts["before_ok"] and self.traffic is not None:
                    facts["before_ok"] = self.traffic.phase("before").ok
                if facts["before_ok"]:
                    self.monitor.start()
                    if self.traffic is not None:
                        self.traffic.start_during()
                    self._method(ledger)
                    self._remove_all(ledger)
                    self._stop_traffic()
                    facts.update(self._recover())
            except InjectionFailed as exc:
                facts["injection_failed"] = True
                rec.notes.append(f"injection failed: {exc.message}")
            except GuardTripped:
                facts["guard_tripped"] = True
                rec.notes.append(f"aborted: {self.monitor.abort_reason}")
            except (KeyboardInterrupt, Terminated):
                facts["interrupted"] = True
                rec.notes.append(f"interrupted by {received[0] if received else 'SIGINT'}")
            finally:
                with _shielded(self.handle_signals, received):
                    self._stop_traffic()
                    facts["restore_failed"] = not self._restore(ledger)
                    self.monitor.stop()
                    self.ctx.close()
        rec.samples = self.monitor.snapshot()
        if self.traffic is not None:
            rec.statistics = self.traffic.to_journal()
            rec.notes.extend(self.traffic.record.notes)
        self._measure()
        facts.update(self._recovery_facts())
        rec.facts = Facts(**facts)
        rec.status = verdict(rec.facts)
        rec.end = clock.now()
        return rec

    def _hypothesis(self, phase: str) -> list[ActivityResult]:
        results = [run_activity(p, self.stack) for p in self.experiment.steady_state.probes]
        failed = [r.activity.label for r in results if not r.ok]
        self.progress(f"steady state {phase}: " + (f"failed ({', '.join(failed)})" if failed else "met"))
        return results

    def _stop_traffic(self) -> None:
        if self.traffic is None:
            return
        during = self.traffic.stop_during()
        if during is not None and during.requests:
            rate = "–" if during.error_rate is None else f"{during.error_rate * 100:.1f}%"
            p95 = "–" if during.p95 is None else f"{during.p95 * 1000:.0f} ms"
            self.progress(f"traffic during: {during.requests} requests, error rate {rate}, p95 {p95}")

    def _wait(self, seconds: float) -> None:
        if self.monitor.abort.wait(seconds):
            raise GuardTripped(self.monitor.abort_reason)

    def _method(self, ledger: Ledger) -> None:
        background: list[threading.Thread] = []
        for index, step in enumerate(self.experiment.method):
            if self.monitor.abort.is_set():
                raise GuardTripped(self.monitor.abort_reason)
            self._wait(step.pauses.before)
            planned = self.plan.for_step(index)
            if planned is not None:
                self._inject(ledger, planned)
                if step.fault is not None and step.fault.duration is not None:
                    self._wait(step.fault.duration)
                    self._remove(ledger, self.record.faults[-1])
            elif step.pause is not None:
                self.progress(f"pause {step.pause:g}s")
                self._wait(step.pause)
            elif step.background:
                thread = threading.Thread(target=self._activity, args=(step,), daemon=True)
                thread.start()
                background.append(thread)
            else:
                self._activity(step)
            self._wait(step.pauses.after)
        for thread in background:
            thread.join()
        if self._failed_actions:
            raise InjectionFailed(f"action {self._failed_actions[0]!r} failed")

    def _activity(self, step: Any) -> None:
        result = run_activity(step, self.stack, evaluate=step.tolerance is not None)
        self.record.run.append(result.to_journal())
        self.progress(f"{step.type} {step.label}: {result.status}")
        if step.type == "action" and result.status == "failed":
            self._failed_actions.append(step.label)
            if not step.background:
                raise InjectionFailed(f"action {step.label!r} failed: {result.exception}")

    def _inject(self, ledger: Ledger, planned: PlannedFault) -> None:
        run = FaultRun(planned, clock.now())
        self.record.faults.append(run)
        try:
            run.injected_at = clock.monotonic()
            run.detail = inject(ledger, self.record.run_id, planned.fault, self.ctx)
        except InjectionFailed as exc:
            run.error = exc.message
            run.injected_at = None
            raise
        if planned.spec.kind in INSTANT_KINDS:
            run.removed_at = run.injected_at
        self.progress(f"injected {planned.spec.kind} on {planned.target}: {run.detail}")

    def _remove(self, ledger: Ledger, run: FaultRun) -> None:
        entry = next((e for e in ledger.pending(self.record.run_id) if e.id == run.planned.fault.id), None)
        if entry is None:
            return
        outcome = replay(ledger, entry, self.ctx)
        if run.removed_at is None or run.planned.spec.kind not in INSTANT_KINDS:
            run.removed_at = clock.monotonic()
        run.removal = outcome.detail
        self.progress(f"removed {run.planned.spec.kind} on {run.planned.target}: {outcome.detail}")

    def _remove_all(self, ledger: Ledger) -> None:
        for run in reversed(self.record.faults):
            self._remove(ledger, run)

    def _recover(self) -> dict[str, bool]:
        """Wait for k consecutive passes of every probe after the last removal, then check once more."""
        settings = self.experiment.runtime
        removals = [r.removed_at for r in self.record.faults if r.removed_at is not None]
        since = max(removals, default=clock.monotonic())
        deadline = clock.monotonic() + settings.recovery_timeout
        recovered = not self.experiment.steady_state.probes
        while not recovered and clock.monotonic() < deadline:
            recovered = self.monitor.sustained_since(since, settings.sustained)
            if not recovered:
                self._wait(settings.probe_interval)
        self.record.after = self._hypothesis("after")
        after_ok = recovered and all(r.ok for r in self.record.after)
        facts = {"after_ok": after_ok}
        if self.traffic is not None:
            if after_ok:
                facts["statistics_ok"] = self.traffic.phase("after").ok
            else:
                self.traffic.record.notes.append(
                    "traffic after the method skipped: the probes did not recover"
                )
        return facts

    def _restore(self, ledger: Ledger) -> bool:
        """Every pending inverse of this run, then every rollback; False if any failed."""
        ok = True
        report = restore_run(ledger, self.record.run_id, self.ctx)
        for outcome in report.outcomes:
            self.record.restore.append(outcome.to_dict())
            run = next((r for r in self.record.faults if r.planned.fault.id == outcome.entry.id), None)
            if run is not None and run.removed_at is None:
                run.removed_at = clock.monotonic()
                run.removal = outcome.detail
            ok = ok and outcome.ok
        for activity in self.experiment.rollbacks:
            result = run_activity(activity, self.stack, evaluate=activity.tolerance is not None)
            self.record.rollbacks.append(result)
            self.progress(f"rollback {activity.label}: {result.status}")
            ok = ok and result.ok
        return ok

    def _measure(self) -> None:
        k = self.experiment.runtime.sustained
        for run in self.record.faults:
            if run.injected_at is None:
                continue
            for label, samples in self.record.samples.items():
                run.recoveries[label] = measure(samples, run.injected_at, run.removed_at, k)

    def _recovery_facts(self) -> dict[str, bool]:
        limit = self.experiment.expect.recover_within
        recoveries = [r for run in self.record.faults for r in run.recoveries.values()]
        during_ok = all(r.impact is None for r in recoveries)
        recovered = all(r.recovered_ok for r in recoveries)
        in_time = limit is None or all(
            (r.after_removal or 0.0) <= limit for r in recoveries if r.recovered_ok
        )
        return {"during_ok": during_ok, "recovered": recovered, "recovered_in_time": in_time}


class RunOptions(TypedDict, total=False):
    """The keyword settings of ``Runner`` (and so of ``run_experiment``); see ``Runner`` for defaults."""

    seed: int | None
    runtime_factory: Callable[[StackConfig], Runtime]
    progress: Progress
    handle_signals: bool


def run_experiment(experiment: Experiment, stack: StackConfig, **options: Unpack[RunOptions]) -> RunRecord:
    """Plan and run ``experiment``; the returned record carries the status and its exit code."""
    return Runner(experiment, stack, **options).run()


__all__ = ["FaultRun", "GuardTripped", "RunRecord", "Runner", "Terminated", "run_experiment"]
