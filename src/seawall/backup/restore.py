"""``restore``: a backup back into its datastores (or elsewhere), proven by the fingerprint, timed (RTO)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall import clock
from seawall.backup._plan import SAFETY_TAG, Progress, no_progress
from seawall.backup.catalog import Catalog
from seawall.backup.create import run_backup
from seawall.backup.errors import BackupError, FingerprintMismatch
from seawall.backup.manifest import Artifact, Manifest
from seawall.backup.pipeline import decoded
from seawall.backup.repository import open_repository
from seawall.backup.restore_plan import plan_restore
from seawall.backup.sources import Target, datastore_for
from seawall.backup.verify import compare
from seawall.config import StackConfig
from seawall.errors import Interrupted, OperationError, SeawallError
from seawall.ops.lifecycle import down, up
from seawall.runtime.base import Runtime
from seawall.store import open_store


class RestoreInterrupted(Interrupted):
    """Ctrl-C or SIGTERM during a restore; the message says what was restored and what was not."""


class RestartFailed(OperationError):
    """The data is restored and proven, but a component stopped for it did not come back ready."""


@dataclass(frozen=True, slots=True)
class ComponentRestore:
    """One datastore restored."""

    component: str
    target: str
    seconds: float
    fingerprint_ok: bool
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "component": self.component,
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "fingerprint_ok": self.fingerprint_ok,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """The outcome of one ``restore``; ``seconds`` is the measured RTO (without the safety backup)."""

    id: str
    components: tuple[ComponentRestore, ...]
    seconds: float
    safety_backup: str | None = None
    stopped: tuple[str, ...] = ()
    safety_seconds: float = 0.0
    missing: tuple[str, ...] = ()  # datastores whose backup failed: this (partial) backup lacks them
    restart_seconds: float = 0.0  # starting the stopped components until ready: part of the RTO

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "rto_seconds": round(self.seconds, 3),
            "safety_backup": self.safety_backup,
            "safety_backup_seconds": round(self.safety_seconds, 3),
            "stopped": list(self.stopped),
            "restart_seconds": round(self.restart_seconds, 3),
            "missing": list(self.missing),
            "components": [c.to_dict() for c in self.components],
        }


def restore(
    stack: StackConfig,
    backup_id: str = "latest",
    component: str | None = None,
    to: str | None = None,
    force: bool = False,
    runtime: Runtime | None = None,
    progress: Progress = no_progress,
    identity: Path | None = None,
) -> RestoreResult:
    """Restore one or every datastore of a backup and prove it by fingerprint.

    Every check runs before anything is written (``plan_restore``: the target's spelling,
    checksums, keys, and without ``force`` that each target is empty). With ``force``, a safety
    backup of the targets is committed first. When restoring in place and a runtime is given, the
    running components that use the restored datastores are stopped (dependents first) for the
    restore and, after it succeeds, started again in dependency order and waited on until ready:
    the RTO ends when the service is back, not when the data is. After a failure they stay
    stopped, and the error says what was restored and how to undo it.
    """
    t0 = clock.monotonic()
    plan = plan_restore(stack, backup_id, component, to, force, runtime, identity)
    if plan.refusal is not None:
        raise plan.refusal
    manifest, occupied = plan.manifest, plan.occupied
    before_safety = clock.monotonic()
    safety = _safety_backup(stack, occupied, to) if occupied else None
    safety_seconds = clock.monotonic() - before_safety
    if plan.stop and runtime is not None:
        down(stack, runtime, plan.stop)
    done: list[ComponentRestore] = []
    try:
        with open_store(stack.state_dir) as store:
            catalog = Catalog(store, stack.stack)
            identities = list(plan.identities)
            for art, target in plan.pairs:
                done.append(_restore_one(stack, manifest, art, target, identities, catalog, progress))
    except (SeawallError, OSError, KeyboardInterrupt) as exc:
        raise _incomplete(exc, manifest, plan.pairs, done, safety, plan.stop) from exc
    restarted = clock.monotonic()
    if plan.stop and runtime is not None:
        _restart(stack, runtime, plan.stop, manifest.id)
    finished = clock.monotonic()
    return RestoreResult(
        manifest.id,
        tuple(done),
        finished - t0 - safety_seconds,
        safety,
        plan.stop,
        safety_seconds,
        plan.missing,
        finished - restarted,
    )


def _restart(stack: StackConfig, runtime: Runtime, stopped: Sequence[str], backup_id: str) -> None:
    """Start what the restore stopped, in dependency order, each wave waited on until ready.

    Only those: a dependency that was not running before the restore is not started now.
    """
    try:
        up(stack, runtime, stopped, dependencies=False)
    except (SeawallError, KeyboardInterrupt) as exc:
        cause = "interrupted" if isinstance(exc, KeyboardInterrupt) else exc.message
        message = (
            f"restore of {backup_id} is complete and its fingerprints match, but starting the "
            f"stopped components again failed: {cause}"
        )
        hint = f"see `seawall status` and `seawall logs`, then `seawall up {' '.join(stopped)}`"
        if isinstance(exc, KeyboardInterrupt):
            raise RestoreInterrupted(message, hint=hint) from exc
        raise RestartFailed(message, hint=hint) from exc


def _safety_backup(stack: StackConfig, occupied: Sequence[tuple[Artifact, Target]], to: str | None) -> str:
    """Commit a backup of the data about to be overwritten; its id.

    A ``--to`` target is not the component's own datastore, so its copy is filed as
    ``<component>@to``: 'latest' and an in-place restore of the component never pick it up, and
    restoring it needs ``--to`` again.
    """
    targets = {
        (f"{a.component}@to" if to is not None else a.component): (
            t,
            [f"the data of {t.describe()} before a restore over it"] if to is not None else [],
        )
        for a, t in occupied
    }
    result = run_backup(stack, targets, (SAFETY_TAG,), no_progress)
    if not result.ok:
        raise BackupError(
            f"the safety backup before the restore failed: {result.failed[0].error}",
            hint="nothing was overwritten",
        )
    return result.id


def _incomplete(
    exc: BaseException,
    manifest: Manifest,
    plan: Sequence[tuple[Artifact, Target]],
    done: Sequence[ComponentRestore],
    safety: str | None,
    stopped: Sequence[str],
) -> SeawallError:
    """The failure, with what the operator needs next: what is restored, what is not, how to undo."""
    restored = {c.component for c in done}
    failed = next((a.component for a, _ in plan if a.component not in restored), None)
    if isinstance(exc, KeyboardInterrupt):
        cause = "interrupted"
    else:
        cause = exc.message if isinstance(exc, SeawallError) else str(exc)
    lines = [f"restore of {manifest.id} stopped at {failed}: {cause}"]
    if restored:
        lines.append(f"  restored and proven: {', '.join(sorted(restored))}")
    lines.append(f"  {failed}'s target may be empty or partly restored")
    rest = [a.component for a, _ in plan if a.component not in restored and a.component != failed]
    if rest:
        lines.append(f"  not started: {', '.join(rest)}")
    if stopped:
        lines.append(f"  left stopped: {', '.join(stopped)} (start them once the data is right)")
    if safety:
        lines.append(f"  the data that was there is in safety backup {safety}")
    hints = [exc.hint] if isinstance(exc, SeawallError) and exc.hint else []
    if safety:
        hints.append(f"run the restore again, or undo it with `seawall restore {safety} --force`")
    hint = "; ".join(hints) or None
    message = "\n".join(lines)
    if isinstance(exc, KeyboardInterrupt):
        return RestoreInterrupted(message, hint=hint)
    return BackupError(message, hint=hint)


def _restore_one(
    stack: StackConfig,
    manifest: Manifest,
    art: Artifact,
    target: Target,
    identities: list[Any],
    catalog: Catalog,
    progress: Progress,
) -> ComponentRestore:
    ds = datastore_for(target)
    repo = open_repository(stack)
    started = clock.monotonic()
    progress(art.component, 0, art.raw_bytes)
    ok, notes = False, []
    try:
        with (
            repo.staging(stack.stack) as staging,
            repo.read_artifact(stack.stack, manifest.id, art.file) as f,
            decoded(f, str(manifest.compression.get("algorithm")), identities) as reader,
        ):
            notes = ds.restore(reader, target, staging)
        difference = compare(art.fingerprint, ds.fingerprint(target, art.fingerprint))
        if difference:
            raise FingerprintMismatch(f"{art.component}: restored data differs from the backup: {difference}")
        ok = True
    finally:
        seconds = clock.monotonic() - started
        catalog.add_restore(manifest.id, art.component, target.describe(), seconds, ok, {"notes": notes})
        catalog.store.record("restore", art.component, backup=manifest.id, ok=ok, seconds=round(seconds, 3))
    progress(art.component, art.raw_bytes, art.raw_bytes)
    return ComponentRestore(art.component, target.describe(), seconds, True, tuple(notes))
