"""Gameday mode: inject only, verify only, restore only, and manual checkpoints with timestamps."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from seawall import clock
from seawall.chaos.experiment.activities import ActivityResult, run_activity
from seawall.chaos.experiment.model import Experiment
from seawall.chaos.experiment.plan import plan_experiment
from seawall.chaos.faults import FaultContext, InjectionFailed
from seawall.chaos.ledger import Ledger
from seawall.chaos.restore import inject
from seawall.config import StackConfig
from seawall.runtime import Runtime, get_runtime
from seawall.store import Store

CHECKPOINTS = ("detected", "mitigated", "resolved", "note")
CHECKPOINT_EVENT = "chaos_checkpoint"


def inject_only(
    experiment: Experiment,
    stack: StackConfig,
    seed: int | None = None,
    runtime_factory: Callable[[StackConfig], Runtime] = get_runtime,
) -> dict[str, Any]:
    """Apply every fault of the method (through the ledger) and leave them for people to find.

    Durations are not waited on: the faults stay until `chaos restore` (network faults also end at
    their proxy TTL, resource faults at their own bound).
    """
    plan = plan_experiment(experiment, stack, seed)
    run_id = "gameday-" + uuid.uuid4().hex[:8]
    ctx = FaultContext(stack, runtime_factory, plan.proxy_api)
    injected: list[dict[str, Any]] = []
    try:
        with Ledger(stack.state_dir) as ledger:
            for planned in plan.faults:
                try:
                    detail = inject(ledger, run_id, planned.fault, ctx)
                except InjectionFailed as exc:
                    injected.append({**planned.to_dict(), "ok": False, "detail": exc.message})
                    break
                injected.append(
                    {**planned.to_dict(), "ok": True, "detail": detail, "at": clock.iso(clock.now())}
                )
    finally:
        ctx.close()
    return {"run_id": run_id, "seed": plan.seed, "faults": injected}


def verify_only(experiment: Experiment, stack: StackConfig) -> list[ActivityResult]:
    """Check the steady-state hypothesis once."""
    return [run_activity(p, stack) for p in experiment.steady_state.probes]


def checkpoint(store: Store, name: str, run_id: str | None = None, note: str = "") -> float:
    """Record a manual checkpoint ("detected", "mitigated", ...) with the current time; returns it."""
    if name not in CHECKPOINTS:
        from seawall.errors import UsageError

        raise UsageError(f"unknown checkpoint {name!r}: use one of {', '.join(CHECKPOINTS)}")
    ts = clock.now()
    store.record(CHECKPOINT_EVENT, None, checkpoint=name, run_id=run_id, note=note, at=clock.iso(ts))
    return ts


__all__ = ["CHECKPOINTS", "checkpoint", "inject_only", "verify_only"]
