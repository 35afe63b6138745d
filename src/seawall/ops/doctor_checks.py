"""Doctor checks of the stack file, runtime, commands, memory, disk and backups; most can fail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import psutil

from seawall.config import StackConfig, format_duration, format_size
from seawall.errors import SeawallError
from seawall.ops._disk import DiskSpace, disk_verdict, disks_for, stack_places
from seawall.runtime import Runtime

if TYPE_CHECKING:  # seawall.backup is imported only when backups are checked (start-up time)
    from seawall.backup.rpo import DatastoreRpo

Mark = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight check: what was checked, its verdict, what was seen, and how to fix it."""

    name: str
    status: Mark
    detail: str
    hint: str = ""
    data: dict[str, object] | None = None  # figures behind the verdict, for --json

    def to_dict(self) -> dict[str, object]:
        """JSON form (``data`` only for the checks that have figures)."""
        out: dict[str, object] = {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
        }
        if self.data is not None:
            out["data"] = self.data
        return out


def config_checks(stack: StackConfig) -> list[Check]:
    """The file is valid (it was loaded); warn about components nothing checks."""
    where = str(stack.source) if stack.source else f"stack {stack.stack}"
    n = len(stack.components)
    checks = [Check("config", "ok", f"{where}: valid, {n} component{'s' * (n != 1)}")]
    dependents: dict[str, list[str]] = {}
    for name, comp in stack.components.items():
        for dep, how in comp.depends_on.items():
            if how.condition == "ready":
                dependents.setdefault(dep, []).append(name)
    for name, comp in stack.components.items():
        if comp.one_shot:
            continue  # a job is judged by its exit code, not by probes
        probes = comp.probes
        if dependents.get(name) and probes.ready is None and probes.startup is None:
            waiting = ", ".join(dependents[name])
            checks.append(
                Check(
                    f"probes of {name}",
                    "warn",
                    f"{name} has no readiness probe: dependents ({waiting}) start as soon as it is spawned",
                    "add `probes: {ready: ...}` so `up` waits until it actually serves",
                )
            )
        elif not probes.items():
            runs = comp.command or comp.image
            sees = "only whether its process runs" if runs else "nothing: it is not run by the stack"
            checks.append(
                Check(
                    f"probes of {name}",
                    "warn",
                    f"{name} has no probes: health sees {sees}",
                    "add a ready or live probe (http, tcp, postgres, redis, mysql or command)",
                )
            )
    return checks


def runtime_check(stack: StackConfig, runtime: Runtime | None) -> Check:
    """The runtime driver the stack asks for exists and can work on this machine."""
    if runtime is None:
        from seawall.runtime import get_runtime

        try:
            runtime = get_runtime(stack)
        except SeawallError as exc:
            return Check("runtime", "fail", exc.message, exc.hint or "")
    try:
        ok, why = runtime.available()
    except SeawallError as exc:
        return Check("runtime", "fail", f"{runtime.name}: {exc.message}", exc.hint or "")
    if ok:
        return Check("runtime", "ok", f"{runtime.name}: {why}")
    return Check("runtime", "fail", f"{runtime.name} is not available: {why}")


def command_checks(stack: StackConfig, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Each component's program exists, looked up in its own PATH and working directory."""
    # the runtime's own check, so doctor and `up` can never disagree about what is runnable
    from seawall.runtime import command_problem

    checks: list[Check] = []
    for name, comp in stack.components.items():
        if not comp.command:
            continue
        problem = command_problem(stack, name, environ)
        if problem is None:
            checks.append(Check(f"command of {name}", "ok", f"{comp.command[0]} is runnable"))
        else:
            hint = "install it, fix `command`, or set PATH in the component's `env`"
            checks.append(Check(f"command of {name}", "fail", problem, hint))
    return checks


def memory_verdict(limits: Mapping[str, int], total: int, available: int) -> Check:
    """Fail if the memory limits add up to more than the machine has; warn if more than is free now."""
    if not limits:
        return Check("memory", "ok", f"no memory limits set; {format_size(available)} available")
    wanted = sum(limits.values())
    biggest = max(limits, key=lambda n: limits[n])
    count = f"{len(limits)} components, largest {biggest}" if len(limits) > 1 else biggest
    summary = f"limits add up to {format_size(wanted)} ({count})"
    if wanted > total:
        return Check(
            "memory",
            "fail",
            f"{summary}, more than the {format_size(total)} this machine has",
            "lower `resources.memory` of some components, or run the stack on a bigger machine",
        )
    if wanted > available:
        return Check(
            "memory",
            "warn",
            f"{summary}, more than the {format_size(available)} available now",
            "the stack may swap or be OOM-killed under load; free memory or lower the limits",
        )
    return Check("memory", "ok", f"{summary}; {format_size(available)} available")


def memory_check(stack: StackConfig) -> Check:
    """Memory limits of the stack against this machine's memory."""
    limits = {n: c.resources.memory for n, c in stack.components.items() if c.resources.memory}
    vm = psutil.virtual_memory()
    return memory_verdict(limits, vm.total, vm.available)


def disk_check(disk: DiskSpace) -> Check:
    """Free space on one filesystem, judged by the hard floor and the warning margin."""
    status, why = disk_verdict(disk.free_bytes, disk.total_bytes)
    detail = (
        f"{format_size(disk.free_bytes)} free of {format_size(disk.total_bytes)}"
        f" ({disk.free_ratio:.0%}) at {disk.path}"
    )
    hint = "" if status == "ok" else "free space there, or move data/backups to another filesystem"
    name = f"disk for {', '.join(disk.purposes)}"
    return Check(name, status, f"{detail}: {why}" if why else detail, hint)


def disk_checks(stack: StackConfig) -> list[Check]:
    """Free disk where the data, the backups and the state live (one check per filesystem)."""
    return [disk_check(d) for d in disks_for(stack_places(stack))]


def volume_checks(stack: StackConfig) -> list[Check]:
    """Compose stacks: stateful services must keep their data in a named volume or a bind mount."""
    if stack.runtime != "compose":
        return []
    from seawall.config.yamlfile import read_yaml
    from seawall.runtime.compose import compose_file_of
    from seawall.runtime.compose_volumes import volume_warnings

    try:
        data, _ = read_yaml(compose_file_of(stack))
    except SeawallError as exc:
        return [Check("persistent data", "fail", exc.message, exc.hint or "")]
    warnings = volume_warnings(data if isinstance(data, dict) else {})
    if not warnings:
        return [Check("persistent data", "ok", "every stateful service keeps its data in a volume")]
    hint = "mount a named volume at the data directory (e.g. pgdata:/var/lib/postgresql/data)"
    return [Check("persistent data", "warn", w, hint) for w in warnings]


NO_VERIFIED_HINT = "run `seawall backup create` then `seawall backup verify --deep`"


def rpo_verdict(figure: DatastoreRpo, objective: float | None, backups: int) -> Check:
    """Judge one datastore's RPO now (the age of the newest verified backup holding it) against
    the objective; never a fail."""
    name = f"backups of {figure.component}"
    data: dict[str, object] = {**figure.to_dict(), "rpo_objective_seconds": objective}
    if figure.seconds is None:
        seen = (
            "no backup yet"
            if backups == 0
            else f"{backups} backup{'s' * (backups != 1)}, none verified with it"
        )
        return Check(name, "warn", f"no verified backup ({seen})", NO_VERIFIED_HINT, data)
    summary = f"newest verified backup {figure.backup} is {format_duration(figure.seconds)} old"
    if objective is None:
        return Check(name, "ok", f"{summary} (no RPO objective set)", data=data)
    if figure.seconds > objective:
        return Check(
            name,
            "warn",
            f"{summary}, older than the RPO objective of {format_duration(objective)}",
            f"{NO_VERIFIED_HINT}, and schedule them more often than every {format_duration(objective)}",
            data,
        )
    return Check(
        name, "ok", f"{summary}, within the RPO objective of {format_duration(objective)}", data=data
    )


def backup_checks(stack: StackConfig) -> list[Check]:
    """Per datastore, the RPO now against ``objectives.rpo``; manifests that cannot be read.

    Reads the repository's listing and the catalog only (no artifact is opened); a repository
    that cannot be read is a warning too, so this check never fails a preflight.
    """
    from seawall.backup.rpo import DatastoreRpo, backed_up_datastores

    datastores = backed_up_datastores(stack)
    if not datastores:
        return []
    from seawall.backup import list_backups
    from seawall.backup.repository import open_repository

    objective = stack.objectives.rpo
    try:
        if not open_repository(stack).backup_ids(stack.stack):
            # no backup at all: say so without creating a state store just to read an empty catalog
            return [rpo_verdict(DatastoreRpo(c), objective, 0) for c in datastores]
        listing = list_backups(stack)
    except SeawallError as exc:
        return [Check("backups", "warn", f"cannot read the backups: {exc.message}", exc.hint or "")]
    except OSError as exc:
        return [Check("backups", "warn", f"cannot read the backups: {exc.strerror or exc}")]
    checks = [rpo_verdict(f, objective, len(listing.backups)) for f in listing.rpo]
    checks += [
        Check("backups", "warn", error, "see `seawall backup list`; such a backup cannot be restored")
        for error in listing.errors
    ]
    return checks
