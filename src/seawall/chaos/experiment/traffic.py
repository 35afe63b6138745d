"""The statistical steady state at run time: generated traffic before, during and after the method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.experiment.model import Hypothesis
from seawall.chaos.experiment.objectives import during_size, phase_size
from seawall.chaos.experiment.statistical import PhaseFigures, figures, worst_window
from seawall.chaos.load_gen import BackgroundTraffic, RequestGenerator


@dataclass
class TrafficRecord:
    """What the generated traffic showed in each phase (``during`` is the impact, not judged)."""

    phases: dict[str, PhaseFigures] = field(default_factory=dict)
    impact: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ok(self, phase: str) -> bool:
        """The phase ran and met every objective (a phase that did not run is not a breach)."""
        figures_ = self.phases.get(phase)
        return figures_ is None or figures_.ok


class TrafficPhases:
    """Runs the generator for the ``before`` and ``after`` phases, and in the background ``during``."""

    def __init__(self, hypothesis: Hypothesis, progress: Callable[[str], None]) -> None:
        if hypothesis.traffic is None:
            raise ValueError("the steady state has no traffic")
        self.hypothesis = hypothesis
        self.traffic = hypothesis.traffic
        self.progress = progress
        self.record = TrafficRecord()
        self._during: BackgroundTraffic | None = None

    def _generator(self) -> RequestGenerator:
        t = self.traffic
        return RequestGenerator(
            t.url, rate=t.rate, concurrency=t.concurrency, method=t.method, headers=t.headers, body=t.body,
            timeout=t.timeout, ok_status=t.ok_status,
        )  # fmt: skip

    def phase(self, name: str) -> PhaseFigures:
        """Send a phase's worth of requests now and judge them."""
        count, seconds = phase_size(self.traffic, self.hypothesis.error_rate, self.hypothesis.latency)
        self.progress(f"traffic {name}: {count} requests at {self.traffic.rate:g}/s")
        samples = self._generator().run(count, seconds)
        result = figures(name, samples, self.hypothesis.error_rate, self.hypothesis.latency)
        self.record.phases[name] = result
        verdict = "met" if result.ok else "breached (" + "; ".join(result.breaches) + ")"
        self.progress(f"traffic {name}: {verdict}")
        return result

    def start_during(self) -> None:
        """Start the background traffic that measures the method's impact."""
        count, seconds = during_size(self.traffic)
        self._during = BackgroundTraffic(self._generator(), count, seconds)
        self._during.start()

    def stop_during(self) -> PhaseFigures | None:
        """Stop the background traffic (idempotent); its figures, reported as impact."""
        if self._during is None:
            return self.record.phases.get("during")
        background, self._during = self._during, None
        samples = background.stop()
        if background.error:
            self.record.notes.append(f"traffic during the method failed: {background.error}")
        result = figures("during", samples, self.hypothesis.error_rate, self.hypothesis.latency, judge=False)
        self.record.phases["during"] = result
        window = self.hypothesis.latency.window if self.hypothesis.latency is not None else 1.0
        q = self.hypothesis.latency.percentile if self.hypothesis.latency is not None else 95.0
        self.record.impact = {"window": window, **worst_window(samples, window, q)} if samples else {}
        return result

    def to_journal(self) -> dict[str, Any]:
        """The journal's ``seawall.statistics``: settings, each phase's figures, the impact."""
        return _journal(self.hypothesis, self.record)


def _journal(hypothesis: Hypothesis, record: TrafficRecord) -> dict[str, Any]:
    return {
        "traffic": None if hypothesis.traffic is None else hypothesis.traffic.model_dump(mode="json"),
        "objectives": {
            "error_rate": None
            if hypothesis.error_rate is None
            else hypothesis.error_rate.model_dump(mode="json"),
            "latency": None if hypothesis.latency is None else hypothesis.latency.model_dump(mode="json"),
        },
        "phases": {name: f.to_dict() for name, f in record.phases.items()},
        "impact": record.impact,
        "notes": record.notes,
    }


__all__ = ["TrafficPhases", "TrafficRecord"]
