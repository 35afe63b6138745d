"""Injecting through the ledger, and replaying pending inverses: ``chaos restore`` and ``chaos panic``."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from seawall.chaos.faults import Fault, FaultContext, inverse_from_dict
from seawall.chaos.faults.base import RestoreFailed
from seawall.chaos.ledger import Ledger, LedgerEntry
from seawall.config import StackConfig
from seawall.errors import SeawallError
from seawall.runtime import Runtime, get_runtime


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    """What replaying one entry's inverse did."""

    entry: LedgerEntry
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "id": self.entry.id,
            "run_id": self.entry.run_id,
            "kind": self.entry.kind,
            "target": self.entry.target,
            "inverse": self.entry.inverse,
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass
class RestoreReport:
    """Every inverse a restore replayed; ``skipped`` are entries of runners still alive."""

    outcomes: list[RestoreOutcome] = field(default_factory=list)
    skipped: list[LedgerEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every replayed inverse succeeded."""
        return all(o.ok for o in self.outcomes)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "ok": self.ok,
            "restored": [o.to_dict() for o in self.outcomes],
            "skipped_live_runs": sorted({e.run_id for e in self.skipped}),
        }


def inject(ledger: Ledger, run_id: str, fault: Fault, ctx: FaultContext) -> str:
    """Write the fault and its inverse durably, then apply it; the only way faults are applied."""
    ledger.record(run_id, fault.id, fault.kind, fault.target, fault.to_dict(), fault.inverse().to_dict())
    detail = fault(ctx)
    ledger.mark_active(fault.id)
    return detail


def replay(ledger: Ledger, entry: LedgerEntry, ctx: FaultContext) -> RestoreOutcome:
    """Run one entry's inverse and record the result in the ledger."""
    try:
        detail = inverse_from_dict(entry.inverse)(ctx)
    except (SeawallError, ValueError, OSError) as exc:
        message = exc.message if isinstance(exc, SeawallError) else f"{type(exc).__name__}: {exc}"
        ledger.mark_failed(entry.id, message)
        return RestoreOutcome(entry, False, message)
    ledger.mark_restored(entry.id)
    return RestoreOutcome(entry, True, detail)


def restore_run(ledger: Ledger, run_id: str, ctx: FaultContext) -> RestoreReport:
    """Replay the pending inverses of one run, newest first (the runner's own cleanup)."""
    return RestoreReport([replay(ledger, entry, ctx) for entry in ledger.pending(run_id)])


def restore_pending(
    stack: StackConfig,
    runtime_factory: Callable[[StackConfig], Runtime] = get_runtime,
    *,
    include_live: bool = False,
) -> RestoreReport:
    """Replay every pending inverse, newest first; entries of a runner still alive are left to it.

    Idempotent: restored entries are never replayed, and every inverse is a no-op when its fault
    is already gone, so a second call finds nothing to do.
    """
    report = RestoreReport()
    with Ledger(stack.state_dir) as ledger:
        ctx = FaultContext(stack, runtime_factory)
        try:
            for entry in ledger.pending():
                if not include_live and entry.owner_alive:
                    report.skipped.append(entry)
                    continue
                report.outcomes.append(replay(ledger, entry, ctx))
        finally:
            ctx.close()
    return report


def panic(
    stack: StackConfig, runtime_factory: Callable[[StackConfig], Runtime] = get_runtime, workers: int = 8
) -> RestoreReport:
    """Restore everything at once, live runs included: every pending inverse, concurrently."""
    report = RestoreReport()
    with Ledger(stack.state_dir) as ledger:
        entries = ledger.pending()
    ctx = FaultContext(stack, runtime_factory)

    def one(entry: LedgerEntry) -> RestoreOutcome:
        # SQLite connections are per thread; each worker writes its own result
        with Ledger(stack.state_dir) as own:
            return replay(own, entry, ctx)

    try:
        if entries:
            _ = ctx.runtime if any(e.inverse.get("component") for e in entries) else None
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(entries)))) as pool:
                report.outcomes.extend(pool.map(one, entries))
    finally:
        ctx.close()
    return report


def raise_if_failed(report: RestoreReport) -> None:
    """RestoreFailed naming the first inverse that failed, if any did."""
    failed = [o for o in report.outcomes if not o.ok]
    if failed:
        first = failed[0]
        raise RestoreFailed(
            f"{len(failed)} inverse(s) failed; first: {first.entry.kind} on {first.entry.target}: "
            f"{first.detail}",
            hint="fix the cause and run `seawall chaos restore` again (it replays only what is pending)",
        )


__all__ = [
    "RestoreOutcome",
    "RestoreReport",
    "inject",
    "panic",
    "raise_if_failed",
    "replay",
    "restore_pending",
    "restore_run",
]
