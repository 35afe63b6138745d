"""Faults and their automatic inverses: process (runtime), resource (bounded children), network (proxy)."""

from __future__ import annotations

from typing import Any, cast

from seawall.chaos.faults.base import (
    DEFAULT_PROXY_API,
    Fault,
    FaultContext,
    InjectionFailed,
    Inverse,
    RestoreFailed,
)
from seawall.chaos.faults.datastore import (
    DatastoreEmpty,
    DatastoreUnavailable,
    How,
    MakeAvailable,
    RestoreBackup,
)
from seawall.chaos.faults.network import ProxyToxic, RemoveToxic
from seawall.chaos.faults.partition import HealPartition, Partition
from seawall.chaos.faults.process import EnsureRunning, Kill, Pause, Restart, Resume, Start, Stop
from seawall.chaos.faults.resource import CpuBurn, DiskFill, KillHogs, MemoryPressure
from seawall.chaos.faults.specs import FAULT_KINDS, FaultSpec, build_fault


def inverse_from_dict(data: dict[str, Any]) -> Inverse:
    """Rebuild an inverse from its ledger form."""
    kind = data.get("kind")
    if kind == EnsureRunning.kind:
        return EnsureRunning(str(data["component"]))
    if kind == Start.kind:
        return Start(str(data["component"]))
    if kind == Resume.kind:
        return Resume(str(data["component"]))
    if kind == KillHogs.kind:
        path = data.get("path")
        return KillHogs(str(data["token"]), None if path is None else str(path))
    if kind == MakeAvailable.kind:
        how = str(data.get("how", "auto"))
        if how not in ("auto", "stop", "move_aside"):
            raise ValueError(f"unknown datastore_unavailable mode {how!r} in the chaos ledger")
        return MakeAvailable(str(data["component"]), str(data["token"]), cast("How", how))
    if kind == RestoreBackup.kind:
        return RestoreBackup(str(data["component"]), str(data["tag"]))
    if kind == HealPartition.kind:
        return HealPartition.from_dict(data)
    if kind == RemoveToxic.kind:
        return RemoveToxic(str(data["api"]), str(data["proxy"]), str(data["toxic"]))
    raise ValueError(f"unknown inverse kind {kind!r} in the chaos ledger")


__all__ = [
    "DEFAULT_PROXY_API",
    "FAULT_KINDS",
    "CpuBurn",
    "DatastoreEmpty",
    "DatastoreUnavailable",
    "DiskFill",
    "EnsureRunning",
    "Fault",
    "FaultContext",
    "FaultSpec",
    "HealPartition",
    "InjectionFailed",
    "Inverse",
    "Kill",
    "KillHogs",
    "MakeAvailable",
    "MemoryPressure",
    "Partition",
    "Pause",
    "ProxyToxic",
    "RemoveToxic",
    "Restart",
    "RestoreBackup",
    "RestoreFailed",
    "Resume",
    "Start",
    "Stop",
    "build_fault",
    "inverse_from_dict",
]
