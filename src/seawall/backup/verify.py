"""``verify_backup``: checksums of every artifact; deep: restore each into a scratch target and compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall import clock
from seawall.backup._outcome import Outcome
from seawall.backup._plan import Progress, encryption, find_backup, no_progress, target_for
from seawall.backup.catalog import Catalog
from seawall.backup.crypto import identities_for
from seawall.backup.errors import ArtifactCorrupt
from seawall.backup.manifest import Artifact, Manifest
from seawall.backup.pipeline import checksum, decoded
from seawall.backup.repository import Repository, open_repository
from seawall.backup.sources import Target, datastore_for
from seawall.config import StackConfig
from seawall.errors import SeawallError, UsageError
from seawall.store import open_store


@dataclass(frozen=True, slots=True)
class ArtifactCheck:
    """The verdict on one artifact."""

    component: str
    file: str
    ok: bool
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "component": self.component,
            "file": self.file,
            "ok": self.ok,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class VerifyResult(Outcome):
    """The outcome of one ``backup verify``."""

    id: str
    deep: bool
    checks: tuple[ArtifactCheck, ...]

    @property
    def ok(self) -> bool:
        """Every artifact passed."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "deep": self.deep,
            "ok": self.ok,
            "artifacts": [c.to_dict() for c in self.checks],
        }


def check_artifact(repo: Repository, manifest: Manifest, art: Artifact) -> None:
    """ArtifactCorrupt (naming the artifact) unless its size and sha256 match the manifest."""
    size = repo.artifact_size(manifest.stack, manifest.id, art.file)
    if size is None:
        raise ArtifactCorrupt(manifest.id, art.file, "it is missing")
    if size != art.stored_bytes:
        raise ArtifactCorrupt(manifest.id, art.file, f"size {size} instead of {art.stored_bytes}")
    with repo.read_artifact(manifest.stack, manifest.id, art.file) as stream:
        _, digest = checksum(stream)
    if digest != art.sha256:
        raise ArtifactCorrupt(manifest.id, art.file, "sha256 differs from the manifest")


def compare(recorded: dict[str, Any], restored: dict[str, Any]) -> str | None:
    """None if equal, else a short description of the first difference."""
    if recorded == restored:
        return None
    for key in sorted(set(recorded) | set(restored)):
        a, b = recorded.get(key), restored.get(key)
        if a != b:
            if isinstance(a, dict) and isinstance(b, dict):
                return f"{key}: {compare(a, b)}"
            return f"{key}: backed up {a!r}, restored {b!r}"
    return "fingerprints differ"


def _scratch_like(stack: StackConfig, art: Artifact) -> Target:
    """A target to model the scratch on; only SQL servers need one from the stack file."""
    try:
        return target_for(stack, art, None)
    except UsageError:
        if art.kind in ("postgres", "mysql"):
            raise
        return Target(kind=art.kind, files=tuple(art.position.get("files", ())))


def _deep(
    stack: StackConfig, repo: Repository, manifest: Manifest, art: Artifact, identities: list[Any]
) -> str:
    like = _scratch_like(stack, art)
    ds = datastore_for(like)
    with ds.scratch(like) as scratch, repo.staging(stack.stack) as staging:
        with (
            repo.read_artifact(manifest.stack, manifest.id, art.file) as stream,
            decoded(stream, str(manifest.compression.get("algorithm")), identities) as reader,
        ):
            ds.restore(reader, scratch, staging)
        difference = compare(art.fingerprint, ds.fingerprint(scratch, art.fingerprint))
    if difference:
        raise ArtifactCorrupt(manifest.id, art.file, f"restored data differs: {difference}")
    return "restored into a scratch target; fingerprint matches"


def verify_backup(
    stack: StackConfig,
    backup_id: str = "latest",
    deep: bool = False,
    progress: Progress = no_progress,
    identity: Path | None = None,
) -> VerifyResult:
    """Check every artifact; with ``deep``, prove each restores to what was backed up (recorded)."""
    repo = open_repository(stack)
    manifest = find_backup(repo, stack.stack, backup_id)
    identities = (
        identities_for(manifest.encryption, encryption(stack, identity), manifest.id)
        if (deep and manifest.encryption)
        else []
    )
    checks = []
    for art in manifest.artifacts:
        started = clock.monotonic()
        progress(art.component, 0, art.stored_bytes)
        try:
            check_artifact(repo, manifest, art)
            detail = "sha256 ok"
            if deep:
                detail = _deep(stack, repo, manifest, art, identities)
            checks.append(ArtifactCheck(art.component, art.file, True, detail, clock.monotonic() - started))
        except SeawallError as exc:
            checks.append(
                ArtifactCheck(art.component, art.file, False, str(exc), clock.monotonic() - started)
            )
        progress(art.component, art.stored_bytes, art.stored_bytes)
    result = VerifyResult(manifest.id, deep, tuple(checks))
    with open_store(stack.state_dir) as store:
        Catalog(store, stack.stack).add_check(manifest.id, deep, result.ok, result.to_dict())
    return result
