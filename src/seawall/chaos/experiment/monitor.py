"""Sampling the steady state and the guards in a background thread while the method runs."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from seawall import clock
from seawall.chaos.experiment.activities import run_activity
from seawall.chaos.experiment.model import Activity, Guard
from seawall.chaos.experiment.stats import Sample
from seawall.config import StackConfig


class Monitor:
    """Runs every steady-state probe and guard each ``interval``; records (t, ok) per probe label.

    A guard failing ``failures`` times in a row sets ``abort`` (the runner waits on it in pauses and
    checks it between steps) and records why in ``abort_reason``.
    """

    def __init__(
        self, stack: StackConfig, probes: Sequence[Activity], guards: Sequence[Guard], interval: float
    ) -> None:
        self.stack = stack
        self.probes = list(probes)
        self.guards = list(guards)
        self.interval = interval
        self.samples: dict[str, list[Sample]] = {p.label: [] for p in self.probes}
        self.abort = threading.Event()
        self.abort_reason = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._guard_failures = [0] * len(self.guards)

    def start(self) -> None:
        """Begin sampling."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="chaos-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the current round to end (bounded by the probes' timeouts)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
            self._thread = None

    def snapshot(self) -> dict[str, list[Sample]]:
        """A copy of the samples so far."""
        with self._lock:
            return {label: list(values) for label, values in self.samples.items()}

    def sustained_since(self, since: float, k: int) -> bool:
        """Every probe's last ``k`` samples, all taken after ``since``, passed."""
        with self._lock:
            for values in self.samples.values():
                recent = [ok for t, ok in values if t >= since][-k:]
                if len(recent) < k or not all(recent):
                    return False
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = clock.monotonic()
            for probe in self.probes:
                result = run_activity(probe, self.stack)
                with self._lock:
                    self.samples[probe.label].append((clock.monotonic(), result.ok))
            for index, guard in enumerate(self.guards):
                result = run_activity(guard, self.stack)
                self._guard_failures[index] = 0 if result.ok else self._guard_failures[index] + 1
                if self._guard_failures[index] >= guard.failures and not self.abort.is_set():
                    self.abort_reason = f"guard {guard.label!r} failed {guard.failures} time(s) in a row"
                    self.abort.set()
            self._stop.wait(max(0.0, self.interval - (clock.monotonic() - began)))


__all__ = ["Monitor"]
