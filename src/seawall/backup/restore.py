"""``restore``: a backup back into its datastores (or elsewhere), proven by the fingerprint, timed (RTO)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall import clock
from seawall.backup._plan import Progress, encryption, find_backup, no_progress, target_for
from seawall.backup.catalog import Catalog
from seawall.backup.create import run_backup
from seawall.backup.crypto import identities_for
from seawall.backup.errors import BackupError, FingerprintMismatch, TargetNotEmpty
from seawall.backup.manifest import Artifact, Manifest
from seawall.backup.pipeline import decoded
from seawall.backup.repository import Repository, open_repository
from seawall.backup.sources import CONFIG_COMPONENT, Target, datastore_for
from seawall.backup.verify import check_artifact, compare
from seawall.config import StackConfig
from seawall.errors import UsageError
from seawall.runtime.base import Runtime
from seawall.store import open_store


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
    """The outcome of one ``restore``; ``seconds`` is the measured RTO."""

    id: str
    components: tuple[ComponentRestore, ...]
    seconds: float
    safety_backup: str | None = None
    stopped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "rto_seconds": round(self.seconds, 3),
            "safety_backup": self.safety_backup,
            "stopped": list(self.stopped),
            "components": [c.to_dict() for c in self.components],
        }


def _dependents(stack: StackConfig, components: Sequence[str]) -> list[str]:
    return [name for name, comp in stack.components.items() if any(c in comp.depends_on for c in components)]


def _plan(
    stack: StackConfig, manifest: Manifest, component: str | None, to: str | None
) -> list[tuple[Artifact, Target]]:
    if component is not None:
        art = manifest.artifact(component)
        if art is None:
            raise UsageError(f"backup {manifest.id} holds no datastore of component {component!r}")
        chosen = [art]
    else:
        if to is not None:
            raise UsageError("--to needs --component: a backup holds several datastores")
        # the stack's own config is restored only when asked for by name: it would rewrite seawall.yaml
        chosen = [a for a in manifest.artifacts if a.component != CONFIG_COMPONENT]
    return [(art, target_for(stack, art, to)) for art in chosen]


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

    Every check runs before anything is written: checksums, keys, and (without ``force``) that
    each target is empty. With ``force``, a safety backup of the targets is committed first.
    When restoring in place and a runtime is given, components that depend on the restored
    ones are stopped for the restore and started again afterwards.
    """
    t0 = clock.monotonic()
    repo = open_repository(stack)
    manifest = find_backup(repo, stack.stack, backup_id, component)
    plan = _plan(stack, manifest, component, to)
    for art, _ in plan:
        check_artifact(repo, manifest, art)
    identities = (
        identities_for(manifest.encryption, encryption(stack, identity), manifest.id)
        if (manifest.encryption)
        else []
    )
    if identities:
        for art, _ in plan:
            _probe_key(repo, manifest, art, identities)
    occupied = [(art, t) for art, t in plan if not datastore_for(t).is_empty(t)]
    safety = None
    if occupied and not force:
        names = ", ".join(f"{a.component} ({t.describe()})" for a, t in occupied)
        raise TargetNotEmpty(
            f"restoring would overwrite existing data: {names}",
            hint="pass --force; a safety backup of that data is taken first",
        )
    if occupied:
        result = run_backup(stack, {a.component: (t, []) for a, t in occupied}, ("pre-restore",), no_progress)
        if not result.ok:
            raise BackupError(f"the safety backup before the restore failed: {result.failed[0].error}")
        safety = result.id
    stopped: list[str] = []
    if runtime is not None and to is None:
        dependents = _dependents(stack, [a.component for a, _ in plan])
        # status(()) means every component: ask only when something depends on the datastore
        stopped = [s.name for s in runtime.status(dependents) if s.alive] if dependents else []
        if stopped:
            runtime.stop(stopped)
    done: list[ComponentRestore] = []
    try:
        with open_store(stack.state_dir) as store:
            catalog = Catalog(store, stack.stack)
            for art, target in plan:
                done.append(_restore_one(stack, manifest, art, target, identities, catalog, progress))
    finally:
        if stopped and runtime is not None:
            runtime.start(stopped)
    return RestoreResult(manifest.id, tuple(done), clock.monotonic() - t0, safety, tuple(stopped))


def _probe_key(repo: Repository, manifest: Manifest, art: Artifact, identities: list[Any]) -> None:
    """Decrypt the first bytes: a key that does not fit fails here, before a target is touched."""
    algorithm = str(manifest.compression.get("algorithm"))
    with (
        repo.read_artifact(manifest.stack, manifest.id, art.file) as f,
        decoded(f, algorithm, identities) as r,
    ):
        r.read(1)


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
