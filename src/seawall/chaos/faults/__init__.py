"""Faults and their automatic inverses: process (runtime), resource (bounded children), network (proxy)."""

from __future__ import annotations

from typing import Any

from seawall.chaos.faults.base import (
    DEFAULT_PROXY_API,
    Fault,
    FaultContext,
    InjectionFailed,
    Inverse,
    RestoreFailed,
)
from seawall.chaos.faults.network import ProxyToxic, RemoveToxic
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
    if kind == RemoveToxic.kind:
        return RemoveToxic(str(data["api"]), str(data["proxy"]), str(data["toxic"]))
    raise ValueError(f"unknown inverse kind {kind!r} in the chaos ledger")


__all__ = [
    "DEFAULT_PROXY_API",
    "FAULT_KINDS",
    "CpuBurn",
    "DiskFill",
    "EnsureRunning",
    "Fault",
    "FaultContext",
    "FaultSpec",
    "InjectionFailed",
    "Inverse",
    "Kill",
    "KillHogs",
    "MemoryPressure",
    "Pause",
    "ProxyToxic",
    "RemoveToxic",
    "Restart",
    "RestoreFailed",
    "Resume",
    "Start",
    "Stop",
    "build_fault",
    "inverse_from_dict",
]
