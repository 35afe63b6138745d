"""Health of a stack right now: runtime state plus every probe run once, recorded as samples."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from seawall import clock
from seawall.config import StackConfig
from seawall.ops.lifecycle import check_names, is_managed, probe_all
from seawall.probes import ProbeResult, ProbeTarget, Status
from seawall.runtime import ComponentStatus, Runtime
from seawall.store import Store


@dataclass(frozen=True)
class ComponentHealth:
    """One component: what the runtime says and what its probes say."""

    name: str
    runtime: ComponentStatus | None
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    one_shot: bool = False

    @property
    def status(self) -> Status:
        """fail if the process is not where it should be or any probe fails; warn if a probe warns."""
        state = self.runtime.state if self.runtime else "unknown"
        if self.runtime is None:
            process_ok = True  # no runtime to ask: the probes alone decide
        elif self.one_shot:
            process_ok = state == "completed"
        else:
            process_ok = state in ("running", "paused")
        if not process_ok or any(r.status is Status.FAIL for r in self.probes.values()):
            return Status.FAIL
        if any(r.status is Status.WARN for r in self.probes.values()) or state == "paused":
            return Status.WARN
        return Status.PASS

    @property
    def uptime(self) -> float | None:
        """Seconds since the current process started."""
        rt = self.runtime
        return None if rt is None or rt.started_at is None or not rt.alive else clock.now() - rt.started_at

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        rt = self.runtime
        return {
            "component": self.name,
            "status": self.status.value,
            "state": rt.state if rt else None,
            "pid": rt.pid if rt else None,
            "uptime": None if self.uptime is None else round(self.uptime, 3),
            "restarts": rt.restart_count if rt else None,
            "last_exit_code": rt.last_exit_code if rt else None,
            "limits": [
                {"name": lim.name, "value": lim.value, "enforced": lim.enforced, "how": lim.how}
                for lim in (rt.limits if rt else ())
            ],
            "probes": {
                role: {"status": r.status.value, "latency": round(r.latency, 6), "detail": r.detail}
                for role, r in self.probes.items()
            },
        }


@dataclass(frozen=True)
class HealthReport:
    """Health of the whole stack (or the named components)."""

    stack: str
    components: list[ComponentHealth]

    @property
    def status(self) -> Status:
        """The worst status of any component."""
        worst = Status.PASS
        for comp in self.components:
            if comp.status is Status.FAIL:
                return Status.FAIL
            if comp.status is Status.WARN:
                worst = Status.WARN
        return worst

    @property
    def exit_code(self) -> int:
        """1 if anything fails, else 0."""
        return 1 if self.status is Status.FAIL else 0

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "stack": self.stack,
            "status": self.status.value,
            "components": [c.to_dict() for c in self.components],
        }

    def to_health_json(self) -> dict[str, object]:
        """The report as application/health+json (draft-inadarei-api-health-check)."""
        from seawall.probes import health_json

        results = [(ProbeTarget(c.name, role), r) for c in self.components for role, r in c.probes.items()]
        doc = health_json(results, service_id=self.stack)
        doc["status"] = self.status.value
        return doc


def check_health(
    stack: StackConfig,
    runtime: Runtime | None,
    names: Sequence[str] = (),
    store: Store | None = None,
    run_probes: bool = True,
) -> HealthReport:
    """Ask the runtime for state, run every probe once, store the results as samples."""
    chosen = check_names(stack, names)
    managed = [n for n in chosen if is_managed(stack, n)]
    states = {s.name: s for s in runtime.status(managed)} if runtime and managed else {}
    results = asyncio.run(probe_all(stack, chosen)) if run_probes else {}
    if store is not None and results:
        from seawall.probes import to_samples

        store.add_samples(to_samples([(ProbeTarget(c, r), res) for (c, r), res in results.items()]))
        for (comp, role), res in results.items():
            if not res.ok:
                store.record("probe_failed", comp, role=role, detail=res.detail)
    components = [
        ComponentHealth(
            name=name,
            runtime=states.get(name),
            probes={role: res for (comp, role), res in results.items() if comp == name},
            one_shot=stack.components[name].one_shot,
        )
        for name in chosen
    ]
    return HealthReport(stack.stack, components)
