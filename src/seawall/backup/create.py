"""``create_backup``: every datastore of the stack under one backup id, in parallel, manifest last."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall import __version__, clock
from seawall.backup._outcome import Outcome
from seawall.backup._plan import Progress, encryption, no_progress, select_targets
from seawall.backup.catalog import Catalog
from seawall.backup.crypto import seal
from seawall.backup.errors import RepositoryUnwritable
from seawall.backup.manifest import Artifact, Failure, Manifest, new_backup_id
from seawall.backup.pipeline import Codec, encode
from seawall.backup.procs import kill_all
from seawall.backup.repository import Repository, open_repository
from seawall.backup.sources import Target, datastore_for
from seawall.config import StackConfig
from seawall.errors import SeawallError
from seawall.store import open_store

# a write the repository's disk refused: full, over quota, read-only, file too large
_DISK_REFUSED = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
_DENIED = frozenset({errno.EACCES, errno.EPERM})


def _repository_refused(exc: BaseException, repo: Repository) -> bool:
    """Whether the repository's disk refused a write: full, read-only, or a path in it denied.

    Permission errors count only on a path inside the repository (a directory made read-only
    midway); the same error on a file being backed up is that datastore's failure.
    """
    if not isinstance(exc, OSError):
        return False
    if exc.errno in _DISK_REFUSED:
        return True
    inside = isinstance(exc.filename, str) and Path(exc.filename).is_relative_to(repo.location)
    return exc.errno in _DENIED and inside


@dataclass(frozen=True, slots=True)
class BackupResult(Outcome):
    """The outcome of one ``backup create``."""

    id: str
    committed: bool
    artifacts: tuple[Artifact, ...]
    failed: tuple[Failure, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    manifest: Manifest | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Every datastore was backed up."""
        return self.committed and not self.failed

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "committed": self.committed,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "artifacts": [a.to_dict() for a in self.artifacts],
            "failed": [f.to_dict() for f in self.failed],
            "notes": list(self.notes),
        }


def _previous_sizes(repo: Repository, stack: str, recent: int = 10) -> dict[str, int]:
    """Per component, its stream size in the newest of the ``recent`` last backups holding it.

    The progress totals of datastores that cannot estimate their own size. A manifest that
    cannot be read is skipped: it costs a total, never the backup.
    """
    sizes: dict[str, int] = {}
    with contextlib.suppress(SeawallError, OSError):
        for backup_id in repo.backup_ids(stack)[-recent:]:  # oldest first: newer sizes overwrite
            with contextlib.suppress(SeawallError, OSError):
                manifest = repo.read_manifest(stack, backup_id)
                sizes.update((a.component, a.raw_bytes) for a in manifest.artifacts)
    return sizes


def _backup_one(
    repo: Repository,
    stack: str,
    backup_id: str,
    component: str,
    target: Target,
    notes: list[str],
    codec: Codec,
    progress: Progress,
    previous: int | None,
) -> Artifact | Failure:
    ds = datastore_for(target)
    name = f"{component}{ds.extension}{codec.suffix}"
    started = clock.monotonic()
    done = 0
    try:
        with repo.staging(stack) as staging, ds.dump(target, staging) as dump:

            def total() -> int | None:
                # the datastore's own estimate, else the last backup's size; none once outgrown
                hint = dump.size_hint or previous
                return hint if hint is None or hint >= done else None

            progress(component, 0, total())

            def on_bytes(n: int) -> None:
                nonlocal done
                done += n
                progress(component, done, total())

            with repo.write_artifact(stack, backup_id, name) as out:
                # a dump whose stream this process parses as it passes (the files tree tap) says so
                written = encode(dump.stream, out, codec, on_bytes, getattr(dump, "parsed_here", False))
                info = dump.finish()  # every exit status, before the artifact is kept
    except (SeawallError, OSError) as exc:
        with contextlib.suppress(OSError):  # a disk gone read-only: abort() removes the directory anyway
            repo.remove_artifact(stack, backup_id, name)
        if isinstance(exc, OSError) and _repository_refused(exc, repo):
            # the repository's disk, not the datastore, failed: no backup can be trusted
            raise RepositoryUnwritable(
                f"cannot write {name} to the backup repository {repo.location}: {exc.strerror}",
                hint="free space in the repository (or make it writable) and run the backup again;"
                " nothing of this backup was kept",
            ) from exc
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Failure(component, target.kind, message or type(exc).__name__)
    position = dict(info.position)
    if target.files:
        position["files"] = list(target.files)
    if target.extra.get("images"):  # the config artifact on the compose runtime: what ran
        position["images"] = target.extra["images"]
    return Artifact(
        component=component,
        kind=target.kind,
        file=name,
        format=info.format,
        raw_bytes=written.raw_bytes,
        stored_bytes=written.stored_bytes,
        sha256=written.sha256,
        duration=round(clock.monotonic() - started, 3),
        tool_versions=info.tool_versions,
        server_version=info.server_version,
        position=position,
        fingerprint=info.fingerprint,
        notes=[*notes, *info.notes],
    )


def run_backup(
    stack: StackConfig, targets: dict[str, tuple[Target, list[str]]], tags: Sequence[str], progress: Progress
) -> BackupResult:
    """Back up the given targets under one new id (shared by ``create_backup`` and safety backups)."""
    enc = encryption(stack)
    sealing = seal(enc) if enc else None
    settings = stack.backup
    codec = Codec(
        settings.compression, settings.level, settings.threads, sealing.recipients if sealing else ()
    )
    repo = open_repository(stack)
    started, t0 = clock.now(), clock.monotonic()
    backup_id = new_backup_id(started)
    notes: list[str] = []
    lock = threading.Lock()

    def guarded(component: str, current: int, total: int | None) -> None:
        with lock:  # callers' progress renderers are rarely thread-safe
            progress(component, current, total)

    with repo.lock(stack.stack, f"backup {backup_id}") as stale:
        if stale is not None and stale.pid:
            notes.append(f"took over a stale lock of {stale.describe()}")
        swept = repo.sweep_incomplete(stack.stack)
        if swept:
            notes.append(f"removed {len(swept)} incomplete backup(s) left by a dead writer")
        previous = _previous_sizes(repo, stack.stack)
        repo.begin(stack.stack, backup_id)
        committed = False
        try:
            with ThreadPoolExecutor(
                max_workers=settings.parallel, thread_name_prefix="seawall-backup"
            ) as pool:
                futures = [
                    pool.submit(
                        _backup_one, repo, stack.stack, backup_id, c, t, n, codec, guarded, previous.get(c)
                    )
                    for c, (t, n) in targets.items()
                ]
                try:
                    outcomes = [f.result() for f in futures]
                except KeyboardInterrupt:
                    _stop_workers(futures)
                    raise
            artifacts = tuple(o for o in outcomes if isinstance(o, Artifact))
            failed = tuple(o for o in outcomes if isinstance(o, Failure))
            manifest = None
            if artifacts:
                manifest = Manifest(
                    id=backup_id,
                    stack=stack.stack,
                    started=started,
                    finished=clock.now(),
                    host=socket.gethostname(),
                    seawall_version=__version__,
                    compression={"algorithm": settings.compression, "level": settings.level},
                    encryption=sealing.record if sealing else None,
                    artifacts=artifacts,
                    failed=failed,
                    tags=tuple(tags),
                )
                repo.commit(manifest)
                committed = True
        finally:
            if not committed:
                repo.abort(stack.stack, backup_id)
    result = BackupResult(
        backup_id, committed, artifacts, failed, clock.monotonic() - t0, tuple(notes), manifest
    )
    with open_store(stack.state_dir) as store:
        if manifest is not None:
            Catalog(store, stack.stack).add(manifest)
        store.record(
            "backup", None, id=backup_id, ok=result.ok, pid=os.getpid(), failed=[f.component for f in failed]
        )
    return result


def _stop_workers(futures: Sequence[Future[Artifact | Failure]]) -> None:
    """Ctrl-C: end the dumps now rather than when they finish.

    The tools run in sessions of their own, so the terminal's SIGINT never reached them, and a
    worker thread cannot be interrupted: its tools are killed (again, should a worker start
    another) until every worker has returned, so that the abort finds nothing still writing.
    """
    for future in futures:
        future.cancel()
    while not all(f.done() for f in futures):
        kill_all()
        time.sleep(0.05)


def create_backup(
    stack: StackConfig,
    components: Sequence[str] = (),
    tags: Sequence[str] = (),
    progress: Progress = no_progress,
) -> BackupResult:
    """Back up the stack's datastores (all, or ``components``) and its config under one id.

    A datastore that fails in any way (a tool's exit status, the disk) is left out of the
    manifest and listed in ``failed``; the manifest is committed only if something succeeded.
    """
    enc = encryption(stack)
    return run_backup(stack, select_targets(stack, components, enc is not None), tags, progress)
