"""Probe results for others: samples for the state store, and application/health+json documents."""

from __future__ import annotations

from collections.abc import Iterable

from seawall import clock
from seawall.probes.result import ProbeResult, ProbeTarget, Status
from seawall.store import Sample

HEALTH_JSON_MEDIA_TYPE = "application/health+json"

# componentType of draft-inadarei-api-health-check: "datastore" for databases, else "component"
_DATASTORE_KINDS = frozenset({"postgres", "mysql", "redis"})


def to_samples(results: Iterable[tuple[ProbeTarget, ProbeResult]]) -> list[Sample]:
    """One state-store sample per result (time, component, role, status, latency, detail)."""
    return [
        Sample(
            ts=result.observed_at or clock.now(),
            component=target.component,
            role=target.role,
            status=result.status.value,
            latency=result.latency,
            detail=result.detail,
        )
        for target, result in results
    ]


def worst_status(statuses: Iterable[Status]) -> Status:
    """fail if any failed, else warn if any warned, else pass (also for no statuses at all)."""
    seen = set(statuses)
    if Status.FAIL in seen:
        return Status.FAIL
    return Status.WARN if Status.WARN in seen else Status.PASS


def health_json(
    results: Iterable[tuple[ProbeTarget, ProbeResult]], *, service_id: str | None = None
) -> dict[str, object]:
    """An application/health+json document (draft-inadarei-api-health-check-06).

    ``checks`` is keyed ``component:role`` (e.g. ``api:ready``); each entry lists one object with
    componentId, componentType, observedValue (latency in ms), observedUnit, status and time;
    ``output`` (the detail) is given for warn and fail only, as the draft asks.
    """
    pairs = list(results)
    checks: dict[str, list[dict[str, object]]] = {}
    for target, result in pairs:
        entry: dict[str, object] = {
            "componentId": target.component,
            "componentType": "datastore" if result.observed.get("kind") in _DATASTORE_KINDS else "component",
            "observedValue": round(result.latency * 1000, 3),
            "observedUnit": "ms",
            "status": result.status.value,
            "time": clock.iso(result.observed_at or clock.now()),
        }
        if result.status is not Status.PASS and result.detail:
            entry["output"] = result.detail
        checks.setdefault(f"{target.component}:{target.role}", []).append(entry)
    doc: dict[str, object] = {"status": worst_status(r.status for _, r in pairs).value}
    if service_id is not None:
        doc["serviceId"] = service_id
    doc["checks"] = checks
    return doc
