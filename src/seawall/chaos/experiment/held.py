"""The faults a run holds: injected through the ledger, removed when due, every one at the end."""

from __future__ import annotations

from collections.abc import Callable

from seawall import clock
from seawall.chaos.experiment.plan import PlannedFault
from seawall.chaos.experiment.record import FaultRun, RunRecord
from seawall.chaos.faults import FaultContext, InjectionFailed
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import inject, replay

INSTANT_KINDS = ("kill", "restart")  # over as soon as applied: recovery is measured from injection


class HeldFaults:
    """Injects and removes one run's faults, timing each into its FaultRun."""

    def __init__(self, record: RunRecord, ctx: FaultContext, progress: Callable[[str], None]) -> None:
        self.record = record
        self.ctx = ctx
        self.progress = progress
        self.background: list[tuple[float, FaultRun]] = []  # (monotonic removal due, fault)
        self.ledger: Ledger | None = None  # used by the main thread only: SQLite connections are per thread

    def inject(self, ledger: Ledger, planned: PlannedFault) -> FaultRun:
        """Write the fault and its inverse to the ledger, then apply it; InjectionFailed propagates."""
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
        return run

    def hold(self, due: float, run: FaultRun) -> None:
        """Keep a background fault until ``due`` (monotonic), or the end of the method."""
        self.background.append((due, run))

    def due_times(self) -> list[float]:
        """When the background faults fall due."""
        return [due for due, _ in self.background]

    def remove_due(self) -> None:
        """Remove the background faults whose time has come."""
        now = clock.monotonic()
        due = [run for when, run in self.background if when <= now]
        self.background = [(when, run) for when, run in self.background if when > now]
        for run in due:
            if self.ledger is not None:
                self.remove(self.ledger, run)

    def remove(self, ledger: Ledger, run: FaultRun) -> None:
        """Replay the fault's inverse if it is still pending."""
        entry = next((e for e in ledger.pending(self.record.run_id) if e.id == run.planned.fault.id), None)
        if entry is None:
            return
        outcome = replay(ledger, entry, self.ctx)
        if run.removed_at is None or run.planned.spec.kind not in INSTANT_KINDS:
            run.removed_at = clock.monotonic()
        run.removal = outcome.detail
        self.progress(f"removed {run.planned.spec.kind} on {run.planned.target}: {outcome.detail}")

    def remove_all(self, ledger: Ledger) -> None:
        """Every fault still pending, last injected first."""
        self.background.clear()
        for run in reversed(self.record.faults):
            self.remove(ledger, run)


__all__ = ["INSTANT_KINDS", "HeldFaults"]
