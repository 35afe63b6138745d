"""The drill's data-loss step: back up, verify, lose the data, restore, prove it, measure RTO and RPO."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seawall import clock
from seawall.config import StackConfig
from seawall.runtime import Runtime


@dataclass(frozen=True, slots=True)
class DataLossFigures:
    """What the data-loss step measured, in seconds and bytes."""

    backup_id: str
    backup_seconds: float
    stored_bytes: int
    raw_bytes: int
    verify_seconds: float
    rpo: float  # age of the newest verified backup at the moment of the loss
    rto: float  # the restore's duration
    fingerprints_equal: bool
    lost: tuple[str, ...]  # components whose data was destroyed

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "backup_id": self.backup_id,
            "backup_seconds": round(self.backup_seconds, 3),
            "stored_bytes": self.stored_bytes,
            "raw_bytes": self.raw_bytes,
            "verify_seconds": round(self.verify_seconds, 3),
            "rpo_seconds": round(self.rpo, 3),
            "rto_seconds": round(self.rto, 3),
            "fingerprints_equal": self.fingerprints_equal,
            "lost": list(self.lost),
        }


def data_loss_step(
    stack: StackConfig, runtime: Runtime, say: Callable[[str], None]
) -> tuple[bool, str, DataLossFigures | None]:
    """Back up and deep-verify, destroy every datastore, restore the backup and compare fingerprints."""
    from seawall.backup import create_backup, list_backups, restore, verify_backup
    from seawall.ops.destroy import plan_destroy, remove_item

    backup = create_backup(stack, tags=("drill",))
    if not backup.ok or backup.manifest is None:
        failed = ", ".join(f.component for f in backup.failed) or "nothing committed"
        return False, f"backup failed: {failed}", None
    say(f"backup {backup.id}: {backup.manifest.stored_bytes} bytes in {backup.seconds:.2f}s")
    began = clock.monotonic()
    verified = verify_backup(stack, backup.id, deep=True)
    verify_seconds = clock.monotonic() - began
    if not verified.ok:
        return False, f"backup {backup.id} did not verify", None
    removals = [remove_item(stack, item) for item in plan_destroy(stack).removals]
    lost = tuple(r.component for r in removals if r.ok)
    rpo = list_backups(stack).rpo_seconds
    say(f"data destroyed: {', '.join(lost) or 'nothing'}")
    # the services recreate empty files on their next request, so the restore has to overwrite
    # the restore restarts the services it stopped and waits until they are ready: its RTO ends there
    restored = restore(stack, backup.id, force=True, runtime=runtime)
    equal = all(c.fingerprint_ok for c in restored.components)
    figures = DataLossFigures(
        backup.id,
        backup.seconds,
        backup.manifest.stored_bytes,
        backup.manifest.raw_bytes,
        verify_seconds,
        rpo if rpo is not None else float("nan"),
        restored.seconds,
        equal,
        lost,
    )
    goals = stack.objectives
    met = (goals.rto is None or figures.rto <= goals.rto) and (goals.rpo is None or figures.rpo <= goals.rpo)
    ok = equal and met and rpo is not None and len(lost) == len(removals) and bool(lost)
    detail = (
        f"restored {len(restored.components)} datastores in {restored.seconds:.2f}s (RTO), "
        f"RPO {figures.rpo:.2f}s, fingerprints {'equal' if equal else 'DIFFER'}"
    )
    return ok, detail, figures
