"""Planning a run (pure given its seed): resolve each fault's target from the allow-list, build the faults."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.edges import join_edges, parse_edge, split_edges
from seawall.chaos.experiment.model import Experiment
from seawall.chaos.faults import Fault, FaultSpec, build_fault
from seawall.chaos.faults.base import DEFAULT_PROXY_API, resolve_proxy_api
from seawall.chaos.faults.datastore import check_unavailable
from seawall.chaos.faults.specs import PARTITION
from seawall.config import StackConfig
from seawall.errors import UsageError

HOST = "host"


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One fault of the method with its resolved target, ready to inject."""

    step: int
    spec: FaultSpec
    target: str
    fault: Fault

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the fault, its target and its automatic inverse."""
        return {
            "step": self.step,
            "id": self.fault.id,
            "kind": self.spec.kind,
            "target": self.target,
            "duration": self.spec.duration,
            "fault": self.fault.to_dict(),
            "inverse": self.fault.inverse().to_dict(),
        }


@dataclass
class Plan:
    """A resolved experiment: the seed, each fault with its target, and the blast radius."""

    experiment: Experiment
    seed: int
    faults: list[PlannedFault] = field(default_factory=list)
    proxy_api: str = DEFAULT_PROXY_API  # where network faults go: resolved once, recorded in each inverse

    @property
    def blast_radius(self) -> list[str]:
        """Every component, edge and 'host' the run will touch."""
        touched: set[str] = set()
        for planned in self.faults:
            for target in split_edges(planned.target):
                touched.add(target)
                if "->" in target:
                    touched.update(parse_edge(target))
        return sorted(touched)

    def for_step(self, index: int) -> PlannedFault | None:
        """The planned fault of method step ``index``, if it is a fault."""
        return next((p for p in self.faults if p.step == index), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what `chaos plan` prints)."""
        return {
            "title": self.experiment.title,
            "seed": self.seed,
            "proxy_api": self.proxy_api,
            "targets": self.experiment.targets,
            "blast_radius": self.blast_radius,
            "faults": [p.to_dict() for p in self.faults],
        }


def _edges(stack: StackConfig) -> list[str]:
    return [f"{caller}->{callee}" for caller, spec in stack.components.items() for callee in spec.edges]


def _edge_allowed(edge: str, allowed: set[str]) -> bool:
    return edge in allowed or parse_edge(edge)[1] in allowed


def _side(value: str | list[str], stack: StackConfig) -> set[str]:
    names = {value} if isinstance(value, str) else set(value)
    for name in sorted(names):
        if name not in stack.components:
            raise UsageError(f"partition fault: between names {name!r}, which the stack does not have")
    return names


def resolve_partition(spec: FaultSpec, allowed: list[str], stack: StackConfig) -> list[str]:
    """Every edge a partition cuts: the listed ones plus their declared reverses, or all ``between``.

    An edge may be cut if it, or either of its ends, is in the experiment's targets.
    """
    declared = _edges(stack)
    if spec.between is not None:
        left, right = (_side(side, stack) for side in spec.between)
        pairs = [(e, *parse_edge(e)) for e in declared]
        wanted = [e for e, a, b in pairs if (a in left and b in right) or (a in right and b in left)]
        if not wanted:
            raise UsageError(
                f"partition fault: the stack declares no edge between {sorted(left)} and {sorted(right)}"
            )
    else:
        wanted = []
        for edge in spec.edges or []:
            caller, callee = parse_edge(edge)
            if f"{caller}->{callee}" not in declared:
                known = ", ".join(declared) or "none"
                raise UsageError(
                    f"partition fault: the stack declares no edge {edge!r} (components.*.edges; "
                    f"declared: {known})"
                )
            wanted += [f"{caller}->{callee}", f"{callee}->{caller}"]
    cut = [e for e in declared if e in wanted]  # declared order, reverses only if declared, no repeats
    allow = set(allowed)
    for edge in cut:
        if not (edge in allow or allow & {*parse_edge(edge)}):
            raise UsageError(f"partition fault: edge {edge!r} (nor either end) is not in the targets")
    return cut


def resolve_target(spec: FaultSpec, allowed: list[str], stack: StackConfig, rng: random.Random) -> str:
    """The one target of a fault: checked against the allow-list; '*' or a list draws from ``rng``."""
    allow = set(allowed)
    if spec.family == PARTITION:
        return join_edges(resolve_partition(spec, allowed, stack))
    if spec.family == "resource":
        if HOST not in allow:
            raise UsageError(f"a {spec.kind} fault acts on the host: add 'host' to the experiment's targets")
        return HOST
    if spec.family in ("process", "datastore"):
        wanted = spec.component
        eligible = {
            n for n, c in stack.components.items() if spec.family == "process" or c.datastore is not None
        }
        pool = sorted(allow & eligible) if wanted == "*" else wanted
        candidates = [pool] if isinstance(pool, str) else list(pool or [])
        for name in candidates:
            if name not in stack.components:
                raise UsageError(f"{spec.kind} fault: the stack has no component {name!r}")
            if name not in allow:
                raise UsageError(f"{spec.kind} fault: component {name!r} is not in the experiment's targets")
            if name not in eligible:
                raise UsageError(f"{spec.kind} fault: component {name!r} declares no datastore")
    else:
        wanted = spec.edge
        declared = _edges(stack)
        pool = [e for e in declared if _edge_allowed(e, allow)] if wanted == "*" else wanted
        candidates = [pool] if isinstance(pool, str) else list(pool or [])
        for edge in candidates:
            caller, callee = parse_edge(edge)
            if f"{caller}->{callee}" not in declared:
                raise UsageError(
                    f"{spec.kind} fault: the stack declares no edge {edge!r} (components.*.edges)"
                )
            if not _edge_allowed(edge, allow):
                raise UsageError(f"{spec.kind} fault: edge {edge!r} (or {callee!r}) is not in the targets")
        candidates = ["->".join(parse_edge(e)) for e in candidates]
    if not candidates:
        raise UsageError(f"{spec.kind} fault: no allowed target to choose from")
    return candidates[0] if len(candidates) == 1 else rng.choice(sorted(candidates))


def toxic_seed(run_seed: int, step: int) -> int:
    """The seed of a network fault's toxicity draws: the run's seed and the step decide it alone."""
    return random.Random(f"{run_seed}:toxicity:{step}").getrandbits(32)


def plan_experiment(
    experiment: Experiment,
    stack: StackConfig,
    seed: int | None = None,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:16],
) -> Plan:
    """Resolve every fault of the method; the same seed always draws the same targets."""
    chosen = seed if seed is not None else experiment.seed
    if chosen is None:
        chosen = secrets.randbits(32)
    rng = random.Random(chosen)
    plan = Plan(experiment, chosen, proxy_api=resolve_proxy_api(experiment.runtime.proxy_api, stack))
    for index, step in enumerate(experiment.method):
        if step.fault is None:
            continue
        try:
            target = resolve_target(step.fault, experiment.targets, stack, rng)
        except UsageError as exc:
            # the message names the fault's kind already; the step number says where it is
            raise UsageError(f"method step {index + 1}: {exc.message}") from None
        try:
            fault = build_fault(step.fault, new_id(), target, plan.proxy_api, seed=toxic_seed(chosen, index))
            check_unavailable(fault, stack)  # e.g. an unmanaged mysql cannot be made unavailable
        except ValueError as exc:
            raise UsageError(f"method step {index + 1} ({step.label}): {exc}") from exc
        plan.faults.append(PlannedFault(index, step.fault, target, fault))
    for activity in [*experiment.steady_state.probes, *experiment.guards, *experiment.method]:
        if activity.probe is not None:
            component, _, role = activity.probe.partition(".")
            spec = stack.components.get(component)
            if spec is None or role not in dict(spec.probes.items()):
                raise UsageError(f"probe {activity.probe!r}: the stack has no such component probe")
    return plan


__all__ = [
    "HOST",
    "Plan",
    "PlannedFault",
    "plan_experiment",
    "resolve_partition",
    "resolve_target",
    "toxic_seed",
]
