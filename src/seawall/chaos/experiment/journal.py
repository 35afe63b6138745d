"""The run journal: Chaos Toolkit's journal keys, plus a ``seawall`` key with measurements and seed."""

from __future__ import annotations

import platform
import socket
from typing import Any

from seawall import clock
from seawall.chaos.experiment.activities import ActivityResult
from seawall.chaos.experiment.record import FaultRun, RunRecord
from seawall.chaos.experiment.stats import summarize
from seawall.chaos.experiment.verdict import CTK_STATUS, RunStatus


def _version() -> str:
    from seawall import __version__

    return f"seawall-{__version__}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _steady(results: list[ActivityResult]) -> dict[str, Any] | None:
    if not results:
        return None
    return {"steady_state_met": all(r.ok for r in results), "probes": [r.to_journal() for r in results]}


def _fault_entry(run: FaultRun, rec: RunRecord) -> dict[str, Any]:
    base = rec.mono_start
    recoveries = {
        label: {
            "time_to_impact": _round(r.time_to_impact),
            "mttr": _round(r.mttr),
            "recovery_after_removal": _round(r.after_removal),
            "recovered": r.recovered_ok,
        }
        for label, r in run.recoveries.items()
    }
    return {
        "id": run.planned.fault.id,
        "kind": run.planned.spec.kind,
        "target": run.planned.target,
        "background": rec.experiment.method[run.planned.step].background,
        "fault": run.planned.fault.to_dict(),
        "inverse": run.planned.fault.inverse().to_dict(),
        "injected_at": _round(None if run.injected_at is None else run.injected_at - base),
        "removed_at": _round(None if run.removed_at is None else run.removed_at - base),
        "detail": run.detail,
        "removal": run.removal,
        "error": run.error,
        "probes": recoveries,
    }


def _fault_activity(run: FaultRun) -> dict[str, Any]:
    return {
        "activity": {
            "type": "action",
            "name": f"{run.planned.spec.kind} on {run.planned.target}",
            "provider": {"type": "seawall-fault", **run.planned.fault.to_dict()},
        },
        "status": "failed" if run.error else "succeeded",
        "output": run.error or run.detail,
        "start": clock.iso(run.started),
        "end": clock.iso(run.started),
        "duration": 0.0,
    }


def _during(rec: RunRecord) -> list[dict[str, Any]]:
    out = []
    for label, samples in rec.samples.items():
        failures = [t for t, ok in samples if not ok]
        out.append(
            {
                "probe": label,
                "samples": len(samples),
                "failures": len(failures),
                "first_breach": _round(failures[0] - rec.mono_start) if failures else None,
                "last_breach": _round(failures[-1] - rec.mono_start) if failures else None,
            }
        )
    return out


def build_journal(rec: RunRecord) -> dict[str, Any]:
    """The JSON journal of one run."""
    mttrs = [r.mttr for run in rec.faults for r in run.recoveries.values() if r.mttr is not None]
    return {
        "chaoslib-version": _version(),
        "platform": platform.platform(),
        "node": socket.gethostname(),
        "experiment": rec.experiment.model_dump(mode="json", exclude_none=True),
        "start": clock.iso(rec.start),
        "end": clock.iso(rec.end),
        "duration": round(rec.end - rec.start, 3),
        "status": CTK_STATUS[rec.status],
        "deviated": rec.status in (RunStatus.DEVIATED, RunStatus.NOT_RECOVERED),
        "steady_states": {"before": _steady(rec.before), "after": _steady(rec.after), "during": _during(rec)},
        "run": [*(_fault_activity(f) for f in rec.faults), *rec.run],
        "rollbacks": [r.to_journal() for r in rec.rollbacks],
        "seawall": {
            "run_id": rec.run_id,
            "status": rec.status.value,
            "exit_code": rec.exit_code,
            "seed": rec.plan.seed,
            "blast_radius": rec.plan.blast_radius,
            "sustained": rec.experiment.runtime.sustained,
            "recover_within": rec.experiment.expect.recover_within,
            "faults": [_fault_entry(run, rec) for run in rec.faults],
            "mttr": summarize(mttrs),
            "restore": rec.restore,
            "notes": rec.notes,
            "statistics": rec.statistics,
            "controls": rec.controls,
        },
    }


__all__ = ["build_journal"]
