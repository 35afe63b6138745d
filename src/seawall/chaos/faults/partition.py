"""A network partition: several edges cut in both directions as one fault, healed by one inverse.

Each edge of the partition gets a ``down`` toxic (Toxiproxy's semantics): the edge's listener closes,
so new connections are refused, and every live connection through it is closed, so nothing flows in
either direction. All the toxics share one name, so one ledger entry and one inverse cover them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, ClassVar

from seawall.chaos.edges import join_edges
from seawall.chaos.faults.base import FaultContext, InjectionFailed, Inverse, RestoreFailed
from seawall.chaos.faults.network import ProxyToxic, RemoveToxic
from seawall.errors import SeawallError


class HealPartition:
    """Inverse of a partition: remove its toxic from every edge; every edge is tried even if one fails."""

    kind: ClassVar[str] = "heal_partition"

    def __init__(self, parts: Sequence[RemoveToxic]) -> None:
        self.parts = list(parts)

    def __call__(self, ctx: FaultContext) -> str:
        done, failed = [], []
        for part in self.parts:
            try:
                done.append(part(ctx))
            except RestoreFailed as exc:
                failed.append(exc.message)
        if failed:
            raise RestoreFailed(f"partition: {len(failed)} edge(s) not healed; first: {failed[0]}")
        return f"healed {len(done)} edge(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": [p.to_dict() for p in self.parts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealPartition:
        """The inverse from its ledger form."""
        parts = data.get("parts")
        if not isinstance(parts, list) or not parts:
            raise ValueError("a heal_partition ledger entry needs its parts")
        return cls([RemoveToxic(str(p["api"]), str(p["proxy"]), str(p["toxic"])) for p in parts])


class Partition:
    """Cut every edge in ``edges`` (both directions); a partial cut is rolled back before failing."""

    kind: ClassVar[str] = "partition"

    def __init__(self, fault_id: str, edges: Sequence[str], *, api: str, ttl: float | None = None) -> None:
        if not edges:
            raise ValueError("a partition needs at least one edge")
        self.id = fault_id
        self.edges = list(edges)
        self.api = api
        self.ttl = ttl
        # one down toxic per edge, all named after this fault (proxy names differ, so no clash)
        self.parts = [ProxyToxic(fault_id, "down", edge, {}, api=api, ttl=ttl) for edge in self.edges]

    @property
    def target(self) -> str:
        return join_edges(self.edges)

    def inverse(self) -> Inverse:
        return HealPartition([RemoveToxic(p.api, p.proxy, p.toxic_name) for p in self.parts])

    def __call__(self, ctx: FaultContext) -> str:
        cut: list[ProxyToxic] = []
        for part in self.parts:
            try:
                part(ctx)
            except InjectionFailed as exc:
                for done in reversed(cut):
                    # best effort: the ledger's inverse replays whatever this leaves
                    with contextlib.suppress(SeawallError, OSError):
                        done.inverse()(ctx)
                raise InjectionFailed(
                    f"partition: cutting {part.edge} failed, {len(cut)} edge(s) already cut were "
                    f"healed: {exc.message}",
                    hint=exc.hint,
                ) from exc
            cut.append(part)
        return f"cut {len(cut)} edge(s) both ways: {self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": self.edges, "ttl": self.ttl}


__all__ = ["HealPartition", "Partition"]
