"""What a restore will do, decided before it writes: targets, the checks, who is stopped (``--dry-run``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.backup._plan import encryption as encryption_of
from seawall.backup._plan import find_backup, target_for
from seawall.backup.crypto import identities_for
from seawall.backup.errors import TargetNotEmpty
from seawall.backup.manifest import Artifact, Manifest
from seawall.backup.repository import open_repository
from seawall.backup.sources import CONFIG_COMPONENT, SERVER_KINDS, Target, datastore_for
from seawall.backup.verify import check_artifact, probe_key
from seawall.config import StackConfig
from seawall.config.graph import with_dependents
from seawall.errors import UsageError
from seawall.runtime.base import Runtime


@dataclass(frozen=True, slots=True)
class PlannedTarget:
    """One datastore a restore will write: where, and whether data there would be overwritten."""

    component: str
    target: str
    raw_bytes: int
    occupied: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "component": self.component,
            "target": self.target,
            "raw_bytes": self.raw_bytes,
            "occupied": self.occupied,
        }


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """Every check a restore makes before writing, passed, and what it would then do.

    ``stop``: the running components that use a restored datastore, stopped for the restore and
    started again (in dependency order, each waited on until ready) after it.
    """

    id: str
    targets: tuple[PlannedTarget, ...]
    stop: tuple[str, ...]
    force: bool
    missing: tuple[str, ...]  # datastores whose backup failed: this (partial) backup lacks them
    manifest: Manifest = field(repr=False)
    pairs: tuple[tuple[Artifact, Target], ...] = field(repr=False)
    identities: tuple[Any, ...] = field(repr=False)

    @property
    def occupied(self) -> list[tuple[Artifact, Target]]:
        """The targets holding data that the restore would overwrite."""
        full = {t.component for t in self.targets if t.occupied}
        return [(a, t) for a, t in self.pairs if a.component in full]

    @property
    def refusal(self) -> TargetNotEmpty | None:
        """Why the restore would stop before writing (data in a target and no ``force``), or None."""
        occupied = [t for t in self.targets if t.occupied]
        if not occupied or self.force:
            return None
        names = ", ".join(f"{t.component} ({t.target})" for t in occupied)
        return TargetNotEmpty(
            f"restoring would overwrite existing data: {names}",
            hint="pass --force; a safety backup of that data is taken first",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        refusal = self.refusal
        return {
            "id": self.id,
            "targets": [t.to_dict() for t in self.targets],
            "safety_backup": bool(self.occupied) and self.force,
            "stop": list(self.stop),
            "missing": list(self.missing),
            "refused": refusal.message if refusal else None,
        }


def users(stack: StackConfig, components: Sequence[str]) -> list[str]:
    """Components that use the restored datastores, in the stack's start order.

    Everything that depends on them, directly or through another component, and the owner of a
    file datastore (a SQLite file or a directory is the owning service's own data; a database
    server, run by the stack or not, must keep running for its data to be restored).
    """
    known = [c for c in components if c in stack.components]
    owners = {c for c in known if _file_kind(stack, c)}
    dependents = with_dependents(stack.dependencies(), known) - set(known)
    chosen = owners | dependents
    return [name for wave in stack.waves() for name in wave if name in chosen]


def _file_kind(stack: StackConfig, component: str) -> bool:
    ds = stack.components[component].datastore
    return ds is not None and ds.kind not in SERVER_KINDS


def _chosen(stack: StackConfig, manifest: Manifest, component: str | None, to: str | None) -> list[Artifact]:
    if component is not None:
        art = manifest.artifact(component)
        if art is None:
            raise UsageError(f"backup {manifest.id} holds no datastore of component {component!r}")
        return [art]
    if to is not None:
        raise UsageError("--to needs --component: a backup holds several datastores")
    # the stack's own config is restored only when asked for by name: it would rewrite seawall.yaml
    return [a for a in manifest.artifacts if a.component != CONFIG_COMPONENT]


def plan_restore(
    stack: StackConfig,
    backup_id: str = "latest",
    component: str | None = None,
    to: str | None = None,
    force: bool = False,
    runtime: Runtime | None = None,
    identity: Path | None = None,
) -> RestorePlan:
    """Run every check a restore makes before it writes, and say what it would do; writes nothing.

    The target's spelling, every artifact's checksum, the key (one artifact's first bytes are
    decrypted), and whether each target holds data. Errors are the restore's own: the exit code of
    ``restore --dry-run`` predicts the restore's.
    """
    repo = open_repository(stack)
    manifest = find_backup(repo, stack.stack, backup_id, component)
    pairs = [(art, target_for(stack, art, to)) for art in _chosen(stack, manifest, component, to)]
    for art, _ in pairs:
        check_artifact(repo, manifest, art)
    identities = (
        identities_for(manifest.encryption, encryption_of(stack, identity), manifest.id)
        if manifest.encryption
        else []
    )
    if identities:
        for art, _ in pairs:
            probe_key(repo, manifest, art, identities)
    planned = tuple(
        PlannedTarget(art.component, t.describe(), art.raw_bytes, not datastore_for(t).is_empty(t))
        for art, t in pairs
    )
    stop: list[str] = []
    if runtime is not None and to is None:
        using = users(stack, [a.component for a, _ in pairs])
        # status(()) means every component: ask only when something uses the datastore
        alive = {s.name for s in runtime.status(using) if s.alive} if using else set()
        stop = [name for name in using if name in alive]
    missing = tuple(f.component for f in manifest.failed) if component is None else ()
    return RestorePlan(
        manifest.id, planned, tuple(stop), force, missing, manifest, tuple(pairs), tuple(identities)
    )


__all__ = ["PlannedTarget", "RestorePlan", "plan_restore", "users"]
