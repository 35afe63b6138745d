"""Past runs in the state store (``chaos_runs``): save, list, show, and MTTR across runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from seawall.chaos.experiment.stats import summarize
from seawall.errors import UsageError
from seawall.store import Store


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One row of `chaos list`."""

    id: str
    ts: float
    title: str
    status: str
    exit_code: int
    seed: int
    duration: float

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "id": self.id,
            "ts": self.ts,
            "title": self.title,
            "status": self.status,
            "exit_code": self.exit_code,
            "seed": self.seed,
            "duration": self.duration,
        }


def save_run(store: Store, journal: dict[str, Any], ts: float) -> None:
    """Store a run's journal."""
    sw = journal["seawall"]
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO chaos_runs(id, ts, title, status, exit_code, seed, duration, journal)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sw["run_id"],
                ts,
                str(journal["experiment"].get("title", "")),
                sw["status"],
                sw["exit_code"],
                sw["seed"],
                journal["duration"],
                json.dumps(journal, default=str),
            ),
        )


def list_runs(store: Store, limit: int = 50, title: str | None = None) -> list[RunSummary]:
    """Runs, newest first."""
    with store.transaction() as db:
        rows = db.execute(
            "SELECT id, ts, title, status, exit_code, seed, duration FROM chaos_runs"
            " WHERE (? IS NULL OR title = ?) ORDER BY ts DESC LIMIT ?",
            (title, title, limit),
        ).fetchall()
    return [RunSummary(*row) for row in rows]


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    """The journal of a run, by id or unique id prefix."""
    with store.transaction() as db:
        rows = db.execute(
            "SELECT id, journal FROM chaos_runs WHERE id LIKE ? ORDER BY ts DESC LIMIT 2",
            (run_id.replace("%", "") + "%",),
        ).fetchall()
    if not rows:
        raise UsageError(f"no chaos run {run_id!r}; see `seawall chaos list`")
    if len(rows) > 1 and rows[0][0] != run_id:
        raise UsageError(f"run id {run_id!r} is ambiguous: give more characters")
    return dict(json.loads(rows[0][1]))


def mttr_across_runs(store: Store, title: str, limit: int = 100) -> dict[str, float | int | None]:
    """p50/p95 of every MTTR measured by the last ``limit`` runs of one experiment."""
    values: list[float] = []
    for summary in list_runs(store, limit, title):
        journal = get_run(store, summary.id)
        for fault in journal["seawall"]["faults"]:
            values.extend(m["mttr"] for m in fault["probes"].values() if m.get("mttr") is not None)
    return summarize(values)


__all__ = ["RunSummary", "get_run", "list_runs", "mttr_across_runs", "save_run"]
