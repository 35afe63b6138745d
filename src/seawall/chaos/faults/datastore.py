"""Datastore loss: make a datastore unavailable, or empty it after a backup that its inverse restores.

Unavailable means, by how the datastore is served: sqlite and files data is renamed aside; a
server the stack runs is stopped; a server it does not run keeps running but refuses the
datastore's clients (``datastore_access``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from seawall.chaos.faults import datastore_access
from seawall.chaos.faults.base import ComponentFault, FaultContext, InjectionFailed, Inverse, RestoreFailed
from seawall.chaos.faults.process import Start
from seawall.config import DatastoreSpec, StackConfig
from seawall.errors import SeawallError

How = Literal["auto", "stop", "move_aside"]
Mode = Literal["stop", "move_aside", "revoke"]
FILE_KINDS = ("sqlite", "files")
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")
ASIDE_MARK = ".seawall-chaos-"


def _datastore(stack: StackConfig, component: str) -> DatastoreSpec:
    spec = stack.components.get(component)
    if spec is None or spec.datastore is None:
        raise ValueError(f"component {component!r} declares no datastore")
    return spec.datastore


def resolve_how(stack: StackConfig, component: str, how: How) -> Mode:
    """What "unavailable" does to this datastore; ValueError when ``how`` cannot apply to it.

    ``auto``: sqlite and files data is moved aside; a server (postgres, redis, ...) the stack runs
    is stopped; one it does not run refuses its clients (``revoke``; not possible for mysql).
    """
    from seawall.ops.lifecycle import is_managed

    ds = _datastore(stack, component)
    files = ds.kind in FILE_KINDS
    managed = is_managed(stack, component)
    if how == "move_aside" and not files:
        raise ValueError(f"a {ds.kind} datastore has no files to move aside: use how: stop or auto")
    if how == "stop" and not managed:
        raise ValueError(f"the stack does not run {component!r}, so it cannot stop it: use how: auto")
    if how != "auto":
        return how
    if files:
        return "move_aside"
    if managed:
        return "stop"
    datastore_access.check_revocable(ds)
    return "revoke"


def check_unavailable(fault: object, stack: StackConfig) -> None:
    """At plan time: ValueError when a ``datastore_unavailable`` fault cannot act on its target."""
    if isinstance(fault, DatastoreUnavailable):
        resolve_how(stack, fault.component, fault.how)


def data_paths(stack: StackConfig, component: str) -> list[Path]:
    """The paths that hold a file datastore: a sqlite database and its companions, or a directory."""
    ds = _datastore(stack, component)
    if ds.kind not in FILE_KINDS:
        raise ValueError(f"a {ds.kind} datastore has no files to move aside: use how: stop")
    path = stack.resolve(ds.path or "")
    if ds.kind == "sqlite":
        return [Path(f"{path}{suffix}") for suffix in _SQLITE_COMPANIONS]
    return [path]


def aside(path: Path, token: str) -> Path:
    """Where ``path`` waits while its datastore is unavailable (same directory: a rename, never a copy)."""
    return path.with_name(f"{path.name}{ASIDE_MARK}{token}")


class MakeAvailable:
    """Inverse of ``datastore_unavailable``: data moved aside goes back; a stopped server is started.

    Whatever was created at the original path meanwhile (an application that made a new, empty
    database) is kept beside it as ``<name>.seawall-chaos-<id>.during``, never deleted.
    """

    kind: ClassVar[str] = "make_available"

    def __init__(self, component: str, token: str, how: How = "auto") -> None:
        self.component = component
        self.token = token
        self.how = how

    def __call__(self, ctx: FaultContext) -> str:
        try:
            how = resolve_how(ctx.stack, self.component, self.how)
        except ValueError as exc:
            raise RestoreFailed(f"cannot bring back the datastore of {self.component!r}: {exc}") from exc
        if how == "stop":
            return Start(self.component)(ctx)
        if how == "revoke":
            try:
                return datastore_access.allow(_datastore(ctx.stack, self.component), self.token)
            except (datastore_access.AccessError, ValueError) as exc:
                raise RestoreFailed(f"cannot let clients back into {self.component!r}: {exc}") from exc
        moved = []
        try:
            for path in data_paths(ctx.stack, self.component):
                waiting = aside(path, self.token)
                if not waiting.exists():
                    continue
                if path.exists() or path.is_symlink():
                    os.replace(path, f"{waiting}.during")
                os.replace(waiting, path)
                moved.append(path.name)
        except (OSError, ValueError) as exc:
            raise RestoreFailed(f"cannot put the data of {self.component!r} back: {exc}") from exc
        if not moved:
            return f"the data of {self.component} is in place"
        return f"put back {', '.join(moved)}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "token": self.token, "how": self.how}


class DatastoreUnavailable(ComponentFault):
    """The datastore goes away: its files are renamed aside, or the component serving it is stopped."""

    kind: ClassVar[str] = "datastore_unavailable"

    def __init__(self, fault_id: str, component: str, how: How = "auto") -> None:
        super().__init__(fault_id, component)
        self.how = how

    def inverse(self) -> Inverse:
        return MakeAvailable(self.component, self.id, self.how)

    def __call__(self, ctx: FaultContext) -> str:
        try:
            how = resolve_how(ctx.stack, self.component, self.how)
        except ValueError as exc:
            raise InjectionFailed(f"datastore_unavailable on {self.component!r}: {exc}") from exc
        if how == "revoke":
            try:
                return datastore_access.revoke(_datastore(ctx.stack, self.component), self.id)
            except (datastore_access.AccessError, ValueError) as exc:
                raise InjectionFailed(f"cannot cut clients off {self.component!r}: {exc}") from exc
        if how == "stop":
            try:
                ctx.runtime.stop([self.component])
            except SeawallError as exc:
                raise InjectionFailed(f"cannot stop {self.component!r}: {exc}") from exc
            return f"stopped {self.component}: its datastore is unavailable"
        moved = []
        try:
            for path in data_paths(ctx.stack, self.component):
                if path.exists():
                    path.rename(aside(path, self.id))
                    moved.append(path.name)
        except (OSError, ValueError) as exc:
            raise InjectionFailed(f"cannot move the data of {self.component!r} aside: {exc}") from exc
        if not moved:
            raise InjectionFailed(f"the datastore of {self.component!r} holds no data to move aside")
        return f"moved {', '.join(moved)} aside"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "how": self.how}


def chaos_tag(fault_id: str) -> str:
    """The backup tag that ties a backup to the ``datastore_empty`` fault that took it."""
    return f"chaos-{fault_id}"


class RestoreBackup:
    """Inverse of ``datastore_empty``: restore (with force) the backup the fault took before emptying.

    The ledger entry names the backup by its tag, written before the backup exists: when no backup
    carries it, the fault never got to empty anything and there is nothing to restore.
    """

    kind: ClassVar[str] = "restore_backup"

    def __init__(self, component: str, tag: str) -> None:
        self.component = component
        self.tag = tag

    def backup_id(self, stack: StackConfig) -> str | None:
        """The committed backup carrying the tag, if any."""
        from seawall.backup import list_backups

        found = [
            b.entry.id
            for b in list_backups(stack).backups
            if self.tag in b.entry.tags and self.component in b.entry.components and b.entry.complete
        ]
        return found[-1] if found else None

    def __call__(self, ctx: FaultContext) -> str:
        from seawall.backup import restore

        try:
            backup_id = self.backup_id(ctx.stack)
            if backup_id is None:
                return f"no backup tagged {self.tag}: the data of {self.component} was never emptied"
            result = restore(ctx.stack, backup_id, component=self.component, force=True)
        except (SeawallError, OSError) as exc:
            raise RestoreFailed(f"cannot restore the data of {self.component!r}: {exc}") from exc
        safety = f" (safety backup {result.safety_backup})" if result.safety_backup else ""
        return f"restored {self.component} from backup {result.id} in {result.seconds:.2f}s{safety}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "tag": self.tag}


class DatastoreEmpty(ComponentFault):
    """Take a verified backup of the datastore (tagged with the fault), then empty it as ``destroy`` does."""

    kind: ClassVar[str] = "datastore_empty"

    def inverse(self) -> Inverse:
        return RestoreBackup(self.component, chaos_tag(self.id))

    def __call__(self, ctx: FaultContext) -> str:
        from seawall.backup import create_backup, verify_backup
        from seawall.ops.destroy import plan_destroy, remove_item

        stack = ctx.stack
        item = next((d for d in plan_destroy(stack).data if d.component == self.component), None)
        if item is None:
            raise InjectionFailed(f"component {self.component!r} declares no datastore")
        if not item.removed:
            raise InjectionFailed(f"cannot empty the datastore of {self.component!r}: {item.note}")
        try:
            backup = create_backup(stack, [self.component], tags=("pre-chaos", chaos_tag(self.id)))
            check = verify_backup(stack, backup.id) if backup.ok else None
        except (SeawallError, OSError) as exc:
            raise InjectionFailed(f"the backup before emptying {self.component!r} failed: {exc}") from exc
        if check is None:
            reason = backup.failed[0].error if backup.failed else "nothing was written"
            raise InjectionFailed(f"the backup before emptying {self.component!r} failed: {reason}")
        if not check.ok:
            raise InjectionFailed(
                f"the backup before emptying {self.component!r} ({backup.id}) does not verify"
            )
        removal = remove_item(stack, item)
        if not removal.ok:
            raise InjectionFailed(f"cannot empty {self.component!r}: {removal.detail}")
        return f"backup {backup.id} taken; {item.action}: {removal.detail}"


__all__ = [
    "ASIDE_MARK",
    "DatastoreEmpty",
    "DatastoreUnavailable",
    "MakeAvailable",
    "RestoreBackup",
    "aside",
    "chaos_tag",
    "check_unavailable",
    "data_paths",
    "resolve_how",
]
