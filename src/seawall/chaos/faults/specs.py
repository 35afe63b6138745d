"""Typed fault specifications as written in experiments, and building a fault from a resolved one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from seawall.chaos.edges import parse_edge, split_edges
from seawall.chaos.faults.base import Fault
from seawall.chaos.faults.datastore import DatastoreEmpty, DatastoreUnavailable
from seawall.chaos.faults.network import TOXIC_KINDS, ProxyToxic
from seawall.chaos.faults.partition import Partition
from seawall.chaos.faults.process import Kill, Pause, Restart, Stop, signal_number
from seawall.chaos.faults.resource import CpuBurn, DiskFill, MemoryPressure
from seawall.config.probes import Frozen
from seawall.config.units import Duration
from seawall.errors import UsageError

PROCESS_KINDS = ("kill", "stop", "restart", "pause")
RESOURCE_KINDS = ("cpu", "memory", "disk_fill")
NETWORK_KINDS = tuple(TOXIC_KINDS)
DATASTORE_KINDS = ("datastore_unavailable", "datastore_empty")
PARTITION = "partition"
FAULT_KINDS = (*PROCESS_KINDS, *RESOURCE_KINDS, *NETWORK_KINDS, PARTITION, *DATASTORE_KINDS)
DEFAULT_RESOURCE_SECONDS = 30.0
TTL_MARGIN = 60.0  # the proxy drops a toxic this long after it should have been removed
DEFAULT_TTL = 600.0

FaultKind = Literal[
    "kill", "stop", "restart", "pause", "cpu", "memory", "disk_fill", "latency", "bandwidth", "timeout",
    "reset_peer", "slow_close", "slicer", "limit_data", "down", "http_abort", "http_delay",
    "partition", "datastore_unavailable", "datastore_empty",
]  # fmt: skip


def _check_edge(text: str) -> None:
    # a ValueError, so the loader reports it with the file and the key like any other field error
    try:
        parse_edge(text)
    except UsageError as exc:
        raise ValueError(exc.message) from None


class FaultSpec(Frozen):
    """``fault: {kind: latency, edge: web->catalog, ms: 800, ttl: 60s}`` and its siblings.

    ``component`` / ``edge`` may be a list (or ``"*"``: any allowed target): one is drawn with the
    experiment's seeded RNG. ``duration``: how long the fault stays before the runner removes it
    (default: until the end of the method; resource faults: 30s, their children's hard bound).
    A ``partition`` cuts ``edges`` (a list of ``a->b``), or every declared edge ``between`` two
    groups of components, in both directions.
    """

    kind: FaultKind
    component: str | list[str] | None = None
    edge: str | list[str] | None = None
    edges: list[str] | None = Field(default=None, description="partition: the edges to cut")
    between: list[str | list[str]] | None = Field(
        default=None, description="partition: two components (or groups); every edge between them is cut"
    )
    duration: Duration | None = None
    signal: str | int = "SIGKILL"
    cores: int = Field(default=1, ge=1)
    mib: int = Field(default=64, ge=1)
    path: str | None = None
    ms: float = Field(default=0, ge=0, description="latency / timeout / http delay, milliseconds")
    jitter: float = Field(default=0, ge=0, description="milliseconds")
    kbps: int = Field(default=0, ge=0, description="bandwidth in KB/s")
    status: int = Field(default=503, ge=100, le=599)
    rate: float = Field(default=1.0, ge=0, le=1, description="share of HTTP requests hit")
    method: str = ""
    path_prefix: str = ""
    header: str = ""
    bytes: int = Field(default=0, ge=0)
    stream: Literal["upstream", "downstream"] | None = None
    toxicity: float = Field(default=1.0, ge=0, le=1)
    ttl: Duration | None = None
    how: Literal["auto", "stop", "move_aside"] = Field(
        default="auto", description="datastore_unavailable: stop the server, or move sqlite/files data aside"
    )

    @model_validator(mode="after")
    def _targets(self) -> FaultSpec:
        if self.kind in (*PROCESS_KINDS, *DATASTORE_KINDS) and self.component is None:
            raise ValueError(f"a {self.kind} fault needs a component")
        if self.kind in NETWORK_KINDS:
            if self.edge is None:
                raise ValueError(f"a {self.kind} fault needs an edge, e.g. 'web->catalog'")
            for edge in [self.edge] if isinstance(self.edge, str) else self.edge:
                if edge != "*":
                    _check_edge(edge)
        if self.kind == PARTITION:
            self._partition()
        elif self.edges is not None or self.between is not None:
            raise ValueError(f"edges and between belong to partition faults, not {self.kind}")
        if self.kind == "disk_fill" and not self.path:
            raise ValueError("a disk_fill fault needs a path (a directory)")
        if self.kind == "kill":
            signal_number(self.signal)
        return self

    def _partition(self) -> None:
        if (self.edges is None) == (self.between is None):
            raise ValueError(
                "a partition fault needs either edges: [web->catalog, ...] or between: [web, catalog]"
            )
        if self.edge is not None:
            raise ValueError("a partition fault takes edges (a list), not edge")
        if self.edges is not None:
            if not self.edges:
                raise ValueError("a partition fault needs at least one edge")
            for edge in self.edges:
                _check_edge(edge)
        if self.between is not None and len(self.between) != 2:
            raise ValueError("between takes two sides: [web, catalog] or [[web, worker], catalog]")

    @property
    def family(self) -> str:
        """process, resource, network, partition or datastore."""
        if self.kind == PARTITION:
            return PARTITION
        if self.kind in PROCESS_KINDS:
            return "process"
        if self.kind in DATASTORE_KINDS:
            return "datastore"
        return "resource" if self.kind in RESOURCE_KINDS else "network"

    def attributes(self) -> dict[str, Any]:
        """The proxy toxic's attributes (Toxiproxy units) for a network fault."""
        http = {
            "rate": self.rate,
            "method": self.method,
            "path_prefix": self.path_prefix,
            "header": self.header,
        }
        by_kind: dict[str, dict[str, Any]] = {
            "latency": {"latency": int(self.ms), "jitter": int(self.jitter)},
            "bandwidth": {"rate": self.kbps},
            "timeout": {"timeout": int(self.ms)},
            "reset_peer": {"timeout": int(self.ms)},
            "slow_close": {"delay": int(self.ms)},
            "slicer": {"average_size": max(1, self.bytes), "size_variation": 0, "delay": int(self.ms * 1000)},
            "limit_data": {"bytes": self.bytes},
            "down": {},
            "http_abort": {"status": self.status, **http},
            "http_delay": {"delay": int(self.ms), **http},
        }
        return by_kind.get(self.kind, {})


def build_fault(
    spec: FaultSpec, fault_id: str, target: str, proxy_api: str, *, seed: int | None = None
) -> Fault:
    """The fault object for a spec whose target (component, edge(s) or ``host``) is resolved.

    ``seed`` decides a network fault's toxicity draws (which connections it hits).
    """
    seconds = spec.duration if spec.duration is not None else DEFAULT_RESOURCE_SECONDS
    if spec.kind == "kill":
        return Kill(fault_id, target, spec.signal)
    if spec.kind == "stop":
        return Stop(fault_id, target)
    if spec.kind == "restart":
        return Restart(fault_id, target)
    if spec.kind == "pause":
        return Pause(fault_id, target)
    if spec.kind == "datastore_unavailable":
        return DatastoreUnavailable(fault_id, target, spec.how)
    if spec.kind == "datastore_empty":
        return DatastoreEmpty(fault_id, target)
    if spec.kind == "cpu":
        return CpuBurn(fault_id, spec.cores, seconds)
    if spec.kind == "memory":
        return MemoryPressure(fault_id, spec.mib, seconds)
    if spec.kind == "disk_fill":
        return DiskFill(fault_id, str(spec.path), spec.mib, seconds)
    ttl = spec.ttl if spec.ttl is not None else (spec.duration or DEFAULT_TTL) + TTL_MARGIN
    if spec.kind == PARTITION:
        return Partition(fault_id, split_edges(target), api=proxy_api, ttl=ttl)
    return ProxyToxic(
        fault_id,
        spec.kind,
        target,
        spec.attributes(),
        api=proxy_api,
        stream=spec.stream,
        toxicity=spec.toxicity,
        ttl=ttl,
        seed=seed,
    )


__all__ = [
    "DATASTORE_KINDS",
    "FAULT_KINDS",
    "NETWORK_KINDS",
    "PARTITION",
    "PROCESS_KINDS",
    "RESOURCE_KINDS",
    "FaultSpec",
    "build_fault",
]
