"""``verify_backup``: checksums of every artifact; deep: restore each into a scratch target and compare."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall import clock
from seawall.backup._outcome import Outcome
from seawall.backup._plan import Progress, as_recorded, encryption, find_backup, no_progress, target_for
from seawall.backup.catalog import Catalog
from seawall.backup.crypto import identities_for
from seawall.backup.errors import ArtifactCorrupt, KeyRequired
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
class ManifestCheck:
    """The manifest's own checksum, matched as it was read: one that does not match never gets this
    far (ManifestCorrupt: its artifacts' recorded checksums cannot be trusted either)."""

    checksum: str | None  # None: written before manifests had one, so nothing to match

    @property
    def detail(self) -> str:
        """One line on what was checked."""
        if self.checksum is None:
            return "no checksum (written before manifests had one): not checked"
        algorithm, _, digest = self.checksum.partition(":")
        return f"checksum ok ({algorithm}:{digest[:16]}...)"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"checksum": self.checksum, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class VerifyResult(Outcome):
    """The outcome of one ``backup verify``."""

    id: str
    deep: bool
    checks: tuple[ArtifactCheck, ...]
    manifest: ManifestCheck

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
            "manifest": self.manifest.to_dict(),
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


_UNTIL = "valid_until"


def probe_key(repo: Repository, manifest: Manifest, art: Artifact, identities: list[Any]) -> None:
    """Decrypt the first bytes: a key that does not fit fails here (KeyRequired), before any work."""
    algorithm = str(manifest.compression.get("algorithm"))
    with (
        repo.read_artifact(manifest.stack, manifest.id, art.file) as f,
        decoded(f, algorithm, identities) as r,
    ):
        r.read(1)


def _probe_any(repo: Repository, manifest: Manifest, identities: list[Any]) -> None:
    """KeyRequired if the key opens no sound artifact: a wrong key is the operator's mistake, to be
    said once (exit 2) and not recorded as a failed verification of a good backup."""
    for art in manifest.artifacts:
        try:
            check_artifact(repo, manifest, art)
            probe_key(repo, manifest, art, identities)
        except KeyRequired:
            raise
        except SeawallError:
            continue  # a damaged artifact: its own check reports it below
        return


def compare(recorded: dict[str, Any], restored: dict[str, Any]) -> str | None:
    """None if equal, else a short description of the first difference.

    A part recorded with ``valid_until`` (Redis keys with a time to live) describes data that
    starts to expire at that moment: it is compared while that moment is still ahead, and left
    out after it. The moment itself is not compared: a restored key's expiry is set again from
    its remaining time, a few milliseconds off.
    """
    if _UNTIL in recorded:
        if recorded[_UNTIL] <= clock.now():
            return None
        recorded = {k: v for k, v in recorded.items() if k != _UNTIL}
        restored = {k: v for k, v in restored.items() if k != _UNTIL}
    if recorded == restored:
        return None
    for key in sorted(set(recorded) | set(restored)):
        a, b = recorded.get(key), restored.get(key)
        if a != b:
            if isinstance(a, dict) and isinstance(b, dict):
                difference = compare(a, b)
                if difference is None:
                    continue
                return f"{key}: {difference}"
            if isinstance(a, dict) and b is None and compare(a, {}) is None:
                continue  # every recorded key of this part has expired and none came back
            return f"{key}: backed up {a!r}, restored {b!r}"
    return None


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
    try:
        like = _scratch_like(stack, art)
    except UsageError:  # no server to make a scratch database on: say so, do not fail a sound backup
        where = f"the stack file has no {art.kind} datastore of {art.component!r} to put a scratch one on"
        return f"sha256 ok; not restored: {where}"
    ds = datastore_for(like)
    with ds.scratch(like) as whole, repo.staging(stack.stack) as staging:
        scratch = as_recorded(whole, art)
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
    if identities:
        _probe_any(repo, manifest, identities)
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
    for failure in manifest.failed:  # a partial backup does not protect these: never "ok"
        detail = f"not in this backup: backing it up failed ({failure.error})"
        checks.append(ArtifactCheck(failure.component, "", False, detail, 0.0))
    result = VerifyResult(manifest.id, deep, tuple(checks), ManifestCheck(manifest.checksum))
    with open_store(stack.state_dir) as store:
        Catalog(store, stack.stack).add_check(manifest.id, deep, result.ok, result.to_dict())
    return result
