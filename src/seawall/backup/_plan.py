"""What an operation works on: the stack's datastores as targets, the codec, the chosen backup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from seawall.backup._locations import checked_location
from seawall.backup.crypto import Encryption, load_identity
from seawall.backup.errors import BackupNotFound
from seawall.backup.manifest import Artifact, Manifest, is_backup_id
from seawall.backup.repository import Repository
from seawall.backup.sources import (
    CONFIG_COMPONENT,
    IN_CONTAINER,
    SERVER_KINDS,
    InContainer,
    Target,
    config_target,
    redis_scoped,
)
from seawall.config import StackConfig
from seawall.config.compose_fields import parse_volume
from seawall.errors import UsageError

Progress = Callable[[str, int, int | None], None]


def no_progress(component: str, done: int, total: int | None) -> None:
    """The default progress callback: says nothing."""


def encryption(stack: StackConfig, identity: Path | None = None) -> Encryption | None:
    """The stack's encryption settings, with an identity file given on the command line added."""
    enc = Encryption.from_settings(stack.backup.encryption, stack.resolve)
    if identity is None:
        return enc
    load_identity(identity)  # fail early, with the file's name, if it is not a key
    if enc is None:
        return Encryption(identity_file=identity)
    return Encryption(enc.recipients, identity, enc.passphrase)


def in_container(stack: StackConfig, component: str) -> InContainer | None:
    """How a compose service's datastore is reached through the engine (None: from the host only).

    PostgreSQL: its container's client tools when the host has none. Files: when the datastore
    names a compose volume (``volume:``), its path is inside the container or at the volume's mountpoint.
    """
    comp = stack.components.get(component)
    ds = comp.datastore if comp else None
    if stack.runtime != "compose" or comp is None or ds is None or ds.kind not in IN_CONTAINER:
        return None
    if ds.kind == "files" and not ds.volume:
        return None  # a bind mount or a host directory: the host files datastore
    mount = None
    for entry in comp.volumes:
        try:
            parsed = parse_volume(entry)
        except ValueError:
            continue
        if parsed is not None and parsed.kind == "volume" and parsed.source == ds.volume:
            mount = parsed.target
    from seawall.runtime.compose import ComposeRuntime  # the engine only for compose stacks

    return InContainer(ComposeRuntime(stack), component, ds.volume, mount)


def _target(stack: StackConfig, component: str) -> Target:
    """A component's datastore as a target (a path in a container stays as written)."""
    ds = stack.components[component].datastore
    assert ds is not None
    container = in_container(stack, component)
    if container is not None and container.volume is not None and ds.path:
        path: Path | None = Path(ds.path)  # inside the container (relative: under the volume's mount)
    else:
        path = stack.resolve(ds.path) if ds.path else None
    exclude = tuple(ds.exclude)
    if ds.kind == "files" and path is not None and container is None:
        exclude += _own_paths_inside(stack, path)
    extra = {"jobs": ds.jobs} if ds.jobs > 1 else {}  # postgres: parallel jobs, the directory format
    return Target(kind=ds.kind, url=ds.url, path=path, exclude=exclude, container=container, extra=extra)


def _own_paths_inside(stack: StackConfig, root: Path) -> tuple[str, ...]:
    """Seawall's repository and state directory when they sit inside a files datastore.

    Backing them up would copy every earlier backup into the new one, and the backup being
    written changes under tar's feet; restoring over them would wipe the catalog.
    """
    out = []
    for own in (stack.resolve(stack.backup.repository), stack.state_dir):
        if own != root and own.is_relative_to(root):
            out.append(own.relative_to(root).as_posix())
    return tuple(out)


def stack_targets(
    stack: StackConfig, encrypted: bool, config: bool = True
) -> dict[str, tuple[Target, list[str]]]:
    """Every component with a datastore (and, with ``config``, the stack's config) as a target with notes."""
    out: dict[str, tuple[Target, list[str]]] = {}
    for name, comp in stack.components.items():
        ds = comp.datastore
        if ds is None or ds.kind == "s3":
            continue
        out[name] = (_target(stack, name), [])
    if config:  # it asks the container engine which images run: only when it is backed up
        out[CONFIG_COMPONENT] = config_target(stack, encrypted)
    return out


def select_targets(
    stack: StackConfig, components: Sequence[str], encrypted: bool
) -> dict[str, tuple[Target, list[str]]]:
    """The named components' targets (all by default); UsageError for names without a datastore."""
    targets = stack_targets(stack, encrypted, config=not components or CONFIG_COMPONENT in components)
    if not components:
        return targets
    unknown = [c for c in components if c not in targets]
    if unknown:
        known = ", ".join(sorted({*targets, CONFIG_COMPONENT}))
        raise UsageError(f"no datastore to back up for {', '.join(unknown)} (datastores: {known})")
    return {c: targets[c] for c in dict.fromkeys(components)}


def target_for(stack: StackConfig, artifact: Artifact, to: str | None) -> Target:
    """Where an artifact is restored: the component's datastore today, or ``to`` (checked first)."""
    if to is not None:
        checked_location(stack, artifact.kind, to)
    if artifact.kind == "config":
        target = Target(
            kind="config", path=stack.root.resolve(), files=tuple(artifact.position.get("files", ()))
        )
    else:
        comp = stack.components.get(artifact.component)
        ds = comp.datastore if comp else None
        if ds is None or ds.kind != artifact.kind:
            if to is None:
                raise UsageError(
                    f"component {artifact.component!r} has no {artifact.kind} datastore in the stack file;"
                    " name a target with --to"
                )
            url, path = (to, None) if artifact.kind in SERVER_KINDS else (None, Path(to))
            bare = Target(kind=artifact.kind, url=url, path=path)
            return as_recorded(bare, artifact)
        target = _target(stack, artifact.component)
    return as_recorded(target.moved_to(to) if to is not None else target, artifact)


def as_recorded(target: Target, artifact: Artifact) -> Target:
    """A target that carries what a restore must recreate as the backup recorded it, not as today's
    target has it: a Redis target narrowed to the backup's scope (its one logical database, or the
    whole server), so that restored data and recorded fingerprint describe the same keys; a MySQL
    target the database's character set and collation (older backups: nothing)."""
    if artifact.kind == "redis" and target.url is not None:
        return replace(target, url=redis_scoped(target.url, artifact.position.get("database")))
    if artifact.kind == "mysql" and artifact.position.get("collation"):
        recorded = {key: artifact.position[key] for key in ("character_set", "collation")}
        return replace(target, extra={**target.extra, **recorded})
    return target


SAFETY_TAG = "pre-restore"
SHOWN_CANDIDATES = 5  # ids an ambiguous prefix names, before "and N more"


def find_backup(repo: Repository, stack: str, backup_id: str, component: str | None = None) -> Manifest:
    """A backup by id (or a unique prefix of one), or the newest ('latest') holding ``component`` if named.

    'latest' passes over the safety backups a forced restore takes: they hold the data that was
    about to be overwritten, often the very state being recovered from, and only its components.
    """
    if backup_id == "latest":
        return _latest(repo, stack, component)
    if not is_backup_id(backup_id):  # a whole id is read as given: all are one length, none begins another
        backup_id = complete_id(backup_id, repo.backup_ids(stack))
        if not is_backup_id(backup_id):
            raise BackupNotFound(
                f"{backup_id!r} is not a backup id, nor the beginning of one in stack {stack}",
                hint="`seawall backup list` shows them",
            )
    # the repository checks the id's shape before it becomes a directory name
    return repo.read_manifest(stack, backup_id)


def _latest(repo: Repository, stack: str, component: str | None) -> Manifest:
    """The newest backup that is no safety backup (and holds ``component``); BackupNotFound if none."""
    for candidate in reversed(repo.backup_ids(stack)):
        manifest = repo.read_manifest(stack, candidate)
        if SAFETY_TAG in manifest.tags:
            continue
        if component is None or manifest.artifact(component) is not None:
            return manifest
    what = f" holding {component!r}" if component else ""
    raise BackupNotFound(f"there is no backup{what} of stack {stack} yet", hint="run `seawall backup create`")


def complete_id(prefix: str, ids: Sequence[str]) -> str:
    """The one id in ``ids`` that begins with ``prefix`` (an exact id wins), as docker and restic accept.

    UsageError when several begin with it, naming a few. When none does, ``prefix`` comes back as
    it is, to fail as any unknown id does when read: the repository's check of an id's shape keeps
    ``..`` or ``/`` out of its paths.
    """
    if prefix in ids:
        return prefix
    matches = [i for i in ids if prefix and i.startswith(prefix)]  # '' would pick any lone backup
    if len(matches) <= 1:
        return matches[0] if matches else prefix
    named = ", ".join(matches[:SHOWN_CANDIDATES])
    more = len(matches) - SHOWN_CANDIDATES
    raise UsageError(
        f"backup id prefix {prefix!r} is ambiguous, {len(matches)} backups begin with it: {named}"
        + (f" and {more} more" if more > 0 else ""),
        hint="give more of the id (`seawall backup list` shows them whole)",
    )
