"""Writes the supervisor's events and probe samples to the state store off the event loop."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seawall import clock
from seawall.probes import ProbeResult
from seawall.store import Sample, Store, open_store

log = logging.getLogger("seawall.supervisor")


class Recorder:
    """One writer thread owns the SQLite connection, so a busy store never stalls supervision.

    Events are written in the order they happen; probe samples are buffered and written in batches.
    """

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seawall-store")
        self._local = threading.local()
        self._pending: list[Sample] = []

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self._state_dir)
            self._local.store = store
        return store

    def _write_event(self, kind: str, component: str | None, detail: dict[str, object]) -> None:
        try:
            self._store().record(kind, component, **detail)
        except Exception:  # a lost event must not take the supervisor down
            log.exception("cannot record event %s", kind)

    def _write_samples(self, samples: list[Sample]) -> None:
        try:
            self._store().add_samples(samples)
        except Exception:
            log.exception("cannot store %d probe samples", len(samples))

    def event(self, kind: str, component: str | None = None, **detail: object) -> None:
        """Queue an event for the event log."""
        self._pool.submit(self._write_event, kind, component, detail)

    def sample(self, component: str, role: str, result: ProbeResult) -> None:
        """Buffer one probe result; ``flush`` writes the buffer."""
        self._pending.append(
            Sample(
                result.observed_at or clock.now(),
                component,
                role,
                result.status.value,
                result.latency,
                result.detail,
            )
        )

    def flush(self) -> None:
        """Queue the buffered samples as one batch."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._pool.submit(self._write_samples, batch)

    def _close_store(self) -> None:
        store: Store | None = getattr(self._local, "store", None)
        if store is not None:
            store.close()

    def close(self) -> None:
        """Write everything still queued, then close the store."""
        self.flush()
        self._pool.submit(self._close_store)
        self._pool.shutdown(wait=True)
