"""Mapping what the engine says about a container (compose ps, docker inspect) to a ComponentStatus."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seawall.config import ComponentSpec, format_size
from seawall.runtime.base import ComponentStatus, LimitState, State

# exit codes a stop request leaves behind: a clean exit, or SIGTERM / SIGINT that were not handled
_STOP_CODES = (0, 130, 143)


def parse_time(text: object) -> float | None:
    """Epoch seconds of an engine timestamp (RFC 3339 with up to nanoseconds); None if unset."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    head, _, rest = text.partition(".")
    zone = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits][:6], rest[digits:]
        head = f"{head}.{fraction}" if fraction else head
    else:
        for sign in ("Z", "+", "-"):
            index = head.rfind(sign)
            if index > 10:  # past the date's own dashes
                head, zone = head[:index], head[index:]
                break
    zone = "+00:00" if zone in ("", "Z") else zone
    try:
        return datetime.fromisoformat(head + zone).timestamp()
    except ValueError:
        return None


def signal_exit(code: int | None) -> int | None:
    """An engine exit code in Seawall's convention: 128+N (killed by signal N) becomes -N."""
    if code is not None and 128 < code < 160:
        return -(code - 128)
    return code


def _state(status: str, paused: bool, code: int | None, spec: ComponentSpec, error: str) -> State:
    if paused or status == "paused":
        return "paused"
    if status == "running":
        return "running"
    if status == "restarting":
        return "backoff"
    if status in ("created", "configured", "initialized"):
        return "starting"
    if status == "dead" or (status in ("exited", "stopped") and error):
        return "failed"
    if status in ("exited", "stopped"):
        if spec.one_shot and code == 0:
            return "completed"
        # the engine keeps no "stopped on purpose" flag: a clean or SIGTERM exit is taken as a stop
        return "stopped" if code in _STOP_CODES else "exited"
    if status == "removing":
        return "stopped"
    return "unknown"


def engine_limits(host_config: dict[str, Any], spec: ComponentSpec) -> tuple[LimitState, ...]:
    """Limits the engine enforces (compose's mem_limit, cpus, ulimits), and Seawall's own that it does not."""
    limits: list[LimitState] = []
    memory = int(host_config.get("Memory") or 0)
    if memory > 0:
        limits.append(LimitState("memory", format_size(memory), True, "engine cgroup (HostConfig.Memory)"))
    cpus = int(host_config.get("NanoCpus") or 0) / 1e9
    quota, period = int(host_config.get("CpuQuota") or 0), int(host_config.get("CpuPeriod") or 0)
    if not cpus and quota > 0 and period > 0:
        cpus = quota / period
    if cpus:
        limits.append(LimitState("cpus", f"{cpus:g}", True, "engine cgroup (HostConfig.NanoCpus)"))
    for ulimit in host_config.get("Ulimits") or []:
        if ulimit.get("Name") == "nofile" and ulimit.get("Soft"):
            limits.append(LimitState("open_files", str(ulimit["Soft"]), True, "engine ulimit nofile"))
    have = {lim.name for lim in limits}
    wanted = spec.resources
    unapplied = {
        "memory": None if wanted.memory is None else format_size(wanted.memory),
        "cpus": None if wanted.cpus is None else f"{wanted.cpus:g}",
        "open_files": None if wanted.open_files is None else str(wanted.open_files),
    }
    for name, value in unapplied.items():
        if value is not None and name not in have:
            limits.append(
                LimitState(
                    name, value, False, "not enforced: set it in the compose file, which the engine applies"
                )
            )
    return tuple(limits)


def from_inspect(name: str, spec: ComponentSpec, data: dict[str, Any]) -> ComponentStatus:
    """A component's status from ``docker inspect`` of its container."""
    state = data.get("State") or {}
    raw_code = state.get("ExitCode")
    code = int(raw_code) if isinstance(raw_code, int) else None
    error = str(state.get("Error") or "")
    status = str(state.get("Status") or "")
    mapped = _state(status, bool(state.get("Paused")), code, spec, error)
    health = str((state.get("Health") or {}).get("Status") or "")
    pid = int(state.get("Pid") or 0) or None
    finished = mapped not in ("running", "paused", "starting")
    details = [f"container {status}" + (f" ({health})" if health else "")]
    if finished and code is not None:
        details.append(f"exit code {code}")
    if state.get("OOMKilled"):
        details.append("killed: out of memory")
    if error:
        details.append(error)
    policy = (data.get("HostConfig") or {}).get("RestartPolicy") or {}
    return ComponentStatus(
        name,
        mapped,
        pid=pid if not finished else None,
        started_at=parse_time(state.get("StartedAt")),
        restart_count=int(data.get("RestartCount") or 0),
        # a restarted container's exit code is reset by the engine: only a finished one has one
        last_exit_code=signal_exit(code) if finished else None,
        limits=engine_limits(data.get("HostConfig") or {}, spec),
        detail=", ".join(details),
        extra={
            "container": str(data.get("Name") or "").lstrip("/"),
            "id": str(data.get("Id") or "")[:12],
            "health": health or None,
            "exit_code": code,
            "restart_policy": str(policy.get("Name") or "no"),
            "image": str((data.get("Config") or {}).get("Image") or ""),
        },
    )


def from_ps(name: str, spec: ComponentSpec, entry: dict[str, Any]) -> ComponentStatus:
    """A component's status from `compose ps` alone, when the engine API cannot be queried."""
    status = str(entry.get("State") or "")
    raw_code = entry.get("ExitCode")
    code = int(raw_code) if isinstance(raw_code, int) else None
    mapped = _state(status, False, code, spec, "")
    health = str(entry.get("Health") or "")
    finished = mapped not in ("running", "paused", "starting")
    return ComponentStatus(
        name,
        mapped,
        last_exit_code=signal_exit(code) if finished else None,
        detail=str(entry.get("Status") or status),
        extra={
            "container": str(entry.get("Name") or ""),
            "id": str(entry.get("ID") or ""),
            "health": health or None,
        },
    )


def missing(name: str) -> ComponentStatus:
    """A component that has no container in the project."""
    return ComponentStatus(name, "unknown", detail="no container (never started, or removed by `down`)")
