"""Running an experiment: steady state, method through the ledger, recovery, and restore that always runs."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, TypedDict, Unpack

from seawall import clock
from seawall.chaos.experiment.activities import ActivityResult, run_activity
from seawall.chaos.experiment.controls import ControlHooks, ControlInterrupt, entries
from seawall.chaos.experiment.held import HeldFaults
from seawall.chaos.experiment.interrupts import RunSignals, Terminated, run_signals
from seawall.chaos.experiment.journal import build_journal
from seawall.chaos.experiment.model import Activity, Experiment, Step
from seawall.chaos.experiment.monitor import Monitor
from seawall.chaos.experiment.plan import plan_experiment
from seawall.chaos.experiment.record import FaultRun, RunRecord
from seawall.chaos.experiment.traffic import TrafficPhases
from seawall.chaos.experiment.verdict import Facts, verdict
from seawall.chaos.faults import FaultContext, InjectionFailed
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import restore_run
from seawall.config import StackConfig
from seawall.runtime import Runtime, get_runtime

Progress = Callable[[str], None]
TICK = 0.05  # seconds between checks while a foreground action runs
CANCEL_WAIT = 6.0  # a cancelled action's thread gets this long to hand back its (killed) result


class GuardTripped(Exception):
    """A guard failed: abort the method and restore."""


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
        self.hooks = ControlHooks(experiment)
        self.record.controls = self.hooks.entries
        self._failed_actions: list[str] = []
        self.held = HeldFaults(self.record, self.ctx, progress)
        self.signals = RunSignals()  # replaced by the run's own when it starts
        self._stopping = threading.Event()  # set when the method ends, however it ends
        hypothesis = experiment.steady_state
        self.traffic = TrafficPhases(hypothesis, progress) if hypothesis.statistical else None

    # the phases -----------------------------------------------------------------------------------

    def run(self) -> RunRecord:
        """Before, method, recovery; then inverses and rollbacks whatever happened."""
        rec = self.record
        rec.mono_start = clock.monotonic()
        facts: dict[str, bool] = {"strict": self.experiment.runtime.hypothesis == "strict"}
        with run_signals(self.handle_signals) as self.signals:
            with Ledger(self.stack.state_dir) as ledger:
                try:
                    with self.signals.armed():  # outside it a signal is only noted: the restore must finish
                        self.held.ledger = ledger
                        self._phases(ledger, facts)
                except InjectionFailed as exc:
                    facts["injection_failed"] = True
                    rec.notes.append(f"injection failed: {exc.message}")
                except GuardTripped:
                    facts["guard_tripped"] = True
                    rec.notes.append(f"aborted: {self.monitor.abort_reason}")
                except (KeyboardInterrupt, Terminated):
                    facts["interrupted"] = True
                    rec.notes.append(f"interrupted by {self.signals.take() or 'SIGINT'}")
                except ControlInterrupt as exc:
                    facts["interrupted"] = True
                    rec.notes.append(f"interrupted by control {exc.control} ({exc.hook}): {exc.message}")
                finally:
                    self._stopping.set()  # background actions still running are killed like a foreground one
                    self._stop_traffic()
                    facts["restore_failed"] = not self._restore(ledger)
                    self.monitor.stop()
                    self.ctx.close()
                    self.held.ledger = None
            self._noted(facts, "while restoring")
            self._finish(facts)
            if self.hooks.declared:  # like the restore, they must finish
                journal = build_journal(rec)
                self.hooks.apply("experiment", "after", self.hooks.doc, journal, interruptible=False)
                self.hooks.cleanup()
        if self._noted(facts, "during the after_experiment and cleanup controls"):
            rec.facts = Facts(**facts)
            rec.status = verdict(rec.facts)
        return rec

    def _phases(self, ledger: Ledger, facts: dict[str, bool]) -> None:
        """Everything a signal may cut short: controls' setup, steady state, method, recovery."""
        rec = self.record
        self.hooks.configure()
        self.hooks.apply("experiment", "before", self.hooks.doc)
        rec.before = self._hypothesis("before")
        facts["before_ok"] = all(r.ok for r in rec.before)
        if facts["before_ok"] and self.traffic is not None:
            facts["before_ok"] = self.traffic.phase("before").ok
        if facts["before_ok"]:
            self.monitor.start()
            if self.traffic is not None:
                self.traffic.start_during()
            with self.hooks.around("method", self.hooks.doc) as method:
                self._method(ledger)
                method.value = rec.run
            self.held.remove_all(ledger)
            self._stop_traffic()
            facts.update(self._recover())

    def _noted(self, facts: dict[str, bool], when: str) -> bool:
        """A signal only noted (it came while the run had to go on) still ends the run as interrupted."""
        name = self.signals.take()
        if name is None or facts.get("interrupted"):
            return False
        facts["interrupted"] = True
        self.record.notes.append(f"interrupted by {name} {when}: noted, and the run finished first")
        return True

    def _finish(self, facts: dict[str, bool]) -> None:
        """Measurements, the verdict and the end time of the record."""
        rec = self.record
        rec.samples = self.monitor.snapshot()
        if self.traffic is not None:
            rec.statistics = self.traffic.to_journal()
            rec.notes.extend(self.traffic.record.notes)
        rec.measure()
        facts.update(rec.recovery_facts())
        rec.facts = Facts(**facts)
        rec.status = verdict(rec.facts)
        rec.end = clock.now()

    def _hypothesis(self, phase: str) -> list[ActivityResult]:
        hypothesis = self.experiment.steady_state
        results: list[ActivityResult] = []
        if hypothesis.probes:  # as in chaostoolkit-lib: no hypothesis, no hypothesis hooks
            context = hypothesis.model_dump(mode="json", exclude_none=True)
            with self.hooks.around("hypothesis", context, hypothesis.controls) as state:
                results = [
                    self._controlled(p, partial(run_activity, p, self.stack)) for p in hypothesis.probes
                ]
                state.value = {"steady_state_met": all(r.ok for r in results), "probes": entries(results)}
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

    def _wait(self, seconds: float | None, done: threading.Event | None = None) -> None:
        """Wait ``seconds`` (or until ``done``), removing background faults as they fall due.

        A tripped guard ends any wait with GuardTripped: the monitor checks guards in its own
        thread for the whole method, so a long pause, fault or action is cut short too.
        """
        end = math.inf if seconds is None else clock.monotonic() + seconds
        while True:
            self.signals.check()  # one that a control or a python provider caught and swallowed
            self.held.remove_due()
            if self.hooks.interrupt is not None:
                raise self.hooks.interrupt
            if self.monitor.abort.is_set():
                raise GuardTripped(self.monitor.abort_reason)
            now = clock.monotonic()
            if (done is not None and done.is_set()) or now >= end:
                return
            wake = min([end, *self.held.due_times()])
            if done is not None:
                wake = min(wake, now + TICK)
            self.monitor.abort.wait(max(0.0, wake - now))

    def _method(self, ledger: Ledger) -> None:
        background: list[threading.Thread] = []
        for index, step in enumerate(self.experiment.method):
            self._wait(step.pauses.before)
            planned = self.plan.for_step(index)
            if planned is not None:
                with self.hooks.around_activity(step) as state:
                    run = self.held.inject(ledger, planned)
                    duration = step.fault.duration if step.fault is not None else None
                    if step.background:
                        # held while the method goes on; removed when due, at the end of the method at latest
                        due = math.inf if duration is None else clock.monotonic() + duration
                        self.held.hold(due, run)
                    elif duration is not None:
                        self._wait(duration)
                        self.held.remove(ledger, run)
                    state.value = {"status": "succeeded", "output": run.detail, "removal": run.removal}
            elif step.pause is not None:
                self.progress(f"pause {step.pause:g}s")
                self._wait(step.pause)
            elif step.background:
                self.hooks.activity_hook("before", step)
                thread = threading.Thread(target=self._background_activity, args=(step,), daemon=True)
                thread.start()
                background.append(thread)
            else:
                with self.hooks.around_activity(step) as state:
                    state.value = self._foreground(step)
            self._wait(step.pauses.after)
        for thread in background:
            thread.join()
        if self.hooks.interrupt is not None:
            raise self.hooks.interrupt
        if self._failed_actions:
            raise InjectionFailed(f"action {self._failed_actions[0]!r} failed")

    def _foreground(self, step: Step) -> dict[str, Any] | None:
        """Run an activity in a worker thread while this one keeps watch (guards, background removals)."""
        cancel, done = threading.Event(), threading.Event()
        out: list[dict[str, Any]] = []
        worker = threading.Thread(target=self._activity, args=(step, cancel, done, out), daemon=True)
        started = False
        try:
            with self.signals.deferred():  # interrupted inside start(), we could not tell if it runs
                worker.start()
                started = True
            self._wait(None, done)
        finally:
            if started and not done.is_set():
                cancel.set()  # kills a process action; an http or python one ends at its timeout
                done.wait(CANCEL_WAIT)
        return out[0] if out else None

    def _background_activity(self, step: Step) -> None:
        out: list[dict[str, Any]] = []
        self._activity(step, self._stopping, out=out)
        try:
            self.hooks.activity_hook("after", step, out[0] if out else None)
        except ControlInterrupt as exc:  # this thread cannot stop the method: the main one will
            self.hooks.interrupt = exc

    def _activity(
        self,
        step: Step,
        cancel: threading.Event | None = None,
        done: threading.Event | None = None,
        out: list[dict[str, Any]] | None = None,
    ) -> None:
        try:
            result = run_activity(step, self.stack, evaluate=step.tolerance is not None, cancel=cancel)
            entry = result.to_journal()
            self.record.run.append(entry)
            if out is not None:
                out.append(entry)
            self.progress(f"{step.type} {step.label}: {result.status}")
            if step.type == "action" and result.status == "failed" and not (cancel and cancel.is_set()):
                self._failed_actions.append(step.label)
        finally:
            if done is not None:
                done.set()

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
        # Seawall always runs every rollback: here a control's InterruptExecution is only recorded
        with self.hooks.around("rollback", self.hooks.doc, interruptible=False) as state:
            for activity in self.experiment.rollbacks:
                call = partial(run_activity, activity, self.stack, evaluate=activity.tolerance is not None)
                result = self._controlled(activity, call, interruptible=False)
                self.record.rollbacks.append(result)
                self.progress(f"rollback {activity.label}: {result.status}")
                ok = ok and result.ok
            state.value = entries(self.record.rollbacks)
        return ok

    def _probe(self, probe: Activity) -> ActivityResult:
        return self._controlled(probe, partial(run_activity, probe, self.stack))

    def _controlled(
        self, activity: Activity, run: Callable[[], ActivityResult], interruptible: bool = True
    ) -> ActivityResult:
        """``run()`` between the activity's before and after control hooks."""
        with self.hooks.around_activity(activity, interruptible) as state:
            result = run()
            state.value = result.to_journal()
        return result


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
