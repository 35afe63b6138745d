"""Probe results as application/health+json and as state-store samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.probes import (
    HEALTH_JSON_MEDIA_TYPE,
    ProbeResult,
    ProbeTarget,
    Status,
    health_json,
    to_samples,
    worst_status,
)
from seawall.store import open_store

T0 = 1_700_000_000.0


def result(status: Status, detail: str = "", kind: str = "http") -> ProbeResult:
    return ProbeResult(status, 0.0123456, detail, T0, {"kind": kind})


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.PASS),
        ([Status.PASS, Status.PASS], Status.PASS),
        ([Status.PASS, Status.WARN], Status.WARN),
        ([Status.WARN, Status.FAIL, Status.PASS], Status.FAIL),
    ],
)
def test_worst_status_is_fail_then_warn_then_pass(statuses: list[Status], expected: Status) -> None:
    assert worst_status(statuses) is expected
    doc = health_json([(ProbeTarget(f"c{i}", "ready"), result(s)) for i, s in enumerate(statuses)])
    assert doc["status"] == expected.value


def test_health_json_follows_the_draft_shape() -> None:
    doc = health_json(
        [
            (ProbeTarget("api", "ready"), result(Status.PASS, "HTTP 200")),
            (ProbeTarget("db", "live"), result(Status.FAIL, "connection refused", kind="postgres")),
        ],
        service_id="shop",
    )
    assert HEALTH_JSON_MEDIA_TYPE == "application/health+json"
    assert doc["serviceId"] == "shop"
    checks = doc["checks"]
    assert isinstance(checks, dict)
    assert sorted(checks) == ["api:ready", "db:live"]
    assert checks["api:ready"] == [
        {
            "componentId": "api",
            "componentType": "component",
            "observedValue": 12.346,
            "observedUnit": "ms",
            "status": "pass",
            "time": "2023-11-14T22:13:20.000+00:00",
        }
    ]
    db = checks["db:live"][0]
    assert db["componentType"] == "datastore"
    assert db["output"] == "connection refused"
    json.dumps(doc)  # serialisable as is


def test_health_json_omits_service_id_when_not_given() -> None:
    assert "serviceId" not in health_json([])


def test_samples_carry_target_status_latency_and_detail(tmp_path: Path) -> None:
    pairs = [(ProbeTarget("api", "ready"), result(Status.WARN, "slow"))]
    samples = to_samples(pairs)
    with open_store(tmp_path) as store:
        store.add_samples(samples)
        stored = store.samples(component="api")
    assert [(s.ts, s.component, s.role, s.status, s.detail) for s in stored] == [
        (T0, "api", "ready", "warn", "slow")
    ]
    assert stored[0].latency == pytest.approx(0.0123456)
