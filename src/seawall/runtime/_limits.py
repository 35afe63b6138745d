"""Resource limits of component processes: cgroup v1 where writable, rlimits otherwise."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seawall.config import Resources, format_size
from seawall.runtime.base import LimitState

CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


def _own_cgroup(controller: str) -> Path | None:
    """The writable cgroup v1 directory of ``controller`` this process lives in, if any."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or controller not in parts[1].split(","):
            continue
        for mount in (CGROUP_ROOT / parts[1], CGROUP_ROOT / controller):
            directory = mount / parts[2].lstrip("/")
            if directory.is_dir() and os.access(directory, os.W_OK):
                return directory
    return None


@dataclass
class LimitPlan:
    """How one component's limits are applied: cgroups to join and rlimits to set before exec."""

    states: list[LimitState] = field(default_factory=list)
    rlimits: list[tuple[int, int]] = field(default_factory=list)
    cgroups: list[Path] = field(default_factory=list)

    def preexec(self) -> Callable[[], None] | None:
        """The function run in the child between fork and exec, or None when there is nothing."""
        if not self.rlimits and not self.cgroups:
            return None
        rlimits, cgroups = list(self.rlimits), list(self.cgroups)

        def apply() -> None:
            # joining first means even the exec'd program's first allocation is accounted
            for directory in cgroups:
                (directory / "cgroup.procs").write_text(str(os.getpid()))
            for which, value in rlimits:
                resource.setrlimit(which, (value, value))

        return apply

    def release(self) -> None:
        """Remove the cgroups once their processes are gone (a busy one is left for next time)."""
        for directory in self.cgroups:
            with contextlib.suppress(OSError):
                directory.rmdir()


def _make_cgroup(controller: str, tag: str, settings: dict[str, str]) -> Path:
    base = _own_cgroup(controller)
    if base is None:
        raise OSError(f"no writable cgroup v1 {controller} controller")
    directory = base / tag
    directory.mkdir(exist_ok=True)
    for key, value in settings.items():
        (directory / key).write_text(value)
    return directory


def plan_limits(resources: Resources, tag: str, *, apply: bool) -> LimitPlan:
    """The limits of a component; with ``apply`` the cgroups are created and configured.

    ``tag`` names the component's cgroup (unique per stack and component). Without ``apply``
    the plan only predicts enforcement, for status before the first start.
    """
    plan = LimitPlan()
    if resources.memory is not None:
        size = str(resources.memory)
        shown = format_size(resources.memory)
        try:
            if not apply:
                if _own_cgroup("memory") is None:
                    raise OSError("no cgroup")
                plan.states.append(LimitState("memory", shown, True, "cgroup v1 memory.limit_in_bytes"))
            else:
                settings = {"memory.limit_in_bytes": size}
                base = _own_cgroup("memory")
                if base is not None and (base / "memory.memsw.limit_in_bytes").exists():
                    # without this, a machine with swap would page instead of enforcing
                    settings["memory.memsw.limit_in_bytes"] = size
                plan.cgroups.append(_make_cgroup("memory", tag, settings))
                plan.states.append(LimitState("memory", shown, True, "cgroup v1 memory.limit_in_bytes"))
        except OSError:
            plan.rlimits.append((resource.RLIMIT_AS, resources.memory))
            plan.states.append(LimitState("memory", shown, True, "RLIMIT_AS (virtual address space)"))
    if resources.cpus is not None:
        quota = max(1000, int(resources.cpus * CFS_PERIOD_US))
        try:
            if apply:
                settings = {"cpu.cfs_period_us": str(CFS_PERIOD_US), "cpu.cfs_quota_us": str(quota)}
                plan.cgroups.append(_make_cgroup("cpu", tag, settings))
            elif _own_cgroup("cpu") is None:
                raise OSError("no writable cgroup v1 cpu controller")
            plan.states.append(LimitState("cpus", f"{resources.cpus:g}", True, "cgroup v1 cpu.cfs_quota_us"))
        except OSError as exc:
            plan.states.append(
                LimitState("cpus", f"{resources.cpus:g}", False, f"not enforceable here: {exc}")
            )
    if resources.open_files is not None:
        plan.rlimits.append((resource.RLIMIT_NOFILE, resources.open_files))
        plan.states.append(LimitState("open_files", str(resources.open_files), True, "RLIMIT_NOFILE"))
    return plan
