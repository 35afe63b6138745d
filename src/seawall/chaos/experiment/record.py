"""What a run produced: each injected fault's times and recoveries, and the whole run's record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.experiment.activities import ActivityResult
from seawall.chaos.experiment.model import Experiment
from seawall.chaos.experiment.plan import Plan, PlannedFault
from seawall.chaos.experiment.stats import Recovery, measure
from seawall.chaos.experiment.verdict import EXIT_CODES, Facts, RunStatus


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
    controls: list[dict[str, Any]] = field(default_factory=list)  # every control hook called, in order

    @property
    def exit_code(self) -> int:
        """The status's exit code."""
        return EXIT_CODES[self.status]

    def measure(self) -> None:
        """Each injected fault's recovery, per steady-state probe, from the samples."""
        k = self.experiment.runtime.sustained
        for run in self.faults:
            if run.injected_at is None:
                continue
            for label, samples in self.samples.items():
                run.recoveries[label] = measure(samples, run.injected_at, run.removed_at, k)

    def recovery_facts(self) -> dict[str, bool]:
        """The verdict's facts about recovery (impact while faults acted, recovered, in time)."""
        limit = self.experiment.expect.recover_within
        recoveries = [r for run in self.faults for r in run.recoveries.values()]
        during_ok = all(r.impact is None for r in recoveries)
        recovered = all(r.recovered_ok for r in recoveries)
        in_time = limit is None or all(
            (r.after_removal or 0.0) <= limit for r in recoveries if r.recovered_ok
        )
        return {"during_ok": during_ok, "recovered": recovered, "recovered_in_time": in_time}


__all__ = ["FaultRun", "RunRecord"]
