"""Chaos hooks: off by default, token-guarded, time-limited latency, errors and breakers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from seawall.asgi import ChaosHooks, Health
from seawall.resilience import Breaker, Registry, State

TOKEN = "s3cret-token-for-tests"
AUTH = [(b"authorization", f"Bearer {TOKEN}".encode())]


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (calls change it between reads)."""
    return breaker.state


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


async def request(
    target: Any, path: str, method: str = "GET", body: object = None, headers: Any = None
) -> tuple[int, bytes]:
    raw = json.dumps(body).encode() if body is not None else b""
    scope = {"type": "http", "method": method, "path": path, "headers": headers or []}
    sent: list[dict[str, Any]] = []
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        done = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await target(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def call(target: Any, path: str, **kw: Any) -> tuple[int, bytes]:
    return asyncio.run(request(target, path, **kw))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(registry: Registry | None = None, rand: float = 0.0) -> tuple[Health, Clock, list[float]]:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    hooks = ChaosHooks(TOKEN, registry=registry or Registry(), clock=clock, rand=lambda: rand, sleep=sleep)
    return Health(app, registry=registry or Registry(), chaos=hooks), clock, slept


def test_chaos_is_off_by_default() -> None:
    health = Health(app, registry=Registry(), chaos=ChaosHooks(None))
    assert call(health, "/health/chaos", method="POST", body={"kind": "error", "ttl": 5}, headers=AUTH) == (
        200,
        b"app",
    )
    with pytest.raises(ValueError, match="16 characters"):
        ChaosHooks("short")


def test_admin_endpoint_requires_the_token() -> None:
    health, _, _ = make()
    assert call(health, "/health/chaos")[0] == 401
    assert (
        call(health, "/health/chaos", headers=[(b"authorization", b"Bearer wrong-token-xxxxxxxx")])[0] == 401
    )
    assert call(health, "/health/chaos", headers=AUTH)[0] == 200


def test_error_injection_matches_path_and_expires() -> None:
    health, clock, _ = make()
    status, body = call(
        health,
        "/health/chaos",
        method="POST",
        headers=AUTH,
        body={"kind": "error", "status": 502, "path": "^/api", "ttl": 10},
    )
    assert status == 201
    assert json.loads(body)["kind"] == "error"
    assert call(health, "/api/items")[0] == 502
    assert call(health, "/other") == (200, b"app")
    assert call(health, "/health/live")[0] == 200  # health paths are never injected
    clock.now = 10.0
    assert call(health, "/api/items") == (200, b"app")


def test_rate_decides_which_requests_are_hit() -> None:
    hit, _, _ = make(rand=0.2)
    miss, _, _ = make(rand=0.8)
    for health in (hit, miss):
        call(
            health,
            "/health/chaos",
            method="POST",
            headers=AUTH,
            body={"kind": "error", "rate": 0.5, "ttl": 10},
        )
    assert call(hit, "/x")[0] == 503
    assert call(miss, "/x")[0] == 200


def test_latency_injection_delays_then_answers() -> None:
    health, _, slept = make()
    call(
        health,
        "/health/chaos",
        method="POST",
        headers=AUTH,
        body={"kind": "latency", "seconds": 1.5, "ttl": 10},
    )
    assert call(health, "/x") == (200, b"app")
    assert slept == [1.5]


def test_breaker_forced_open_then_restored_on_delete_and_on_expiry() -> None:
    registry = Registry()
    breaker = registry.breaker("catalog")
    health, clock, _ = make(registry)
    body = {"kind": "breaker", "name": "catalog", "state": "open", "ttl": 30}
    assert call(health, "/health/chaos", method="POST", headers=AUTH, body=body)[0] == 201
    assert current(breaker) is State.FORCED_OPEN
    listed = json.loads(call(health, "/health/chaos", headers=AUTH)[1])["injections"]
    assert listed[0]["name"] == "catalog"
    assert call(health, "/health/chaos", method="DELETE", headers=AUTH)[0] == 200
    assert current(breaker) is State.CLOSED
    call(health, "/health/chaos", method="POST", headers=AUTH, body={**body, "state": "closed"})
    assert current(breaker) is State.FORCED_CLOSED
    clock.now = 31.0
    call(health, "/x")
    assert current(breaker) is State.CLOSED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "error"}, "ttl"),
        ({"kind": "error", "ttl": 0}, "ttl"),
        ({"kind": "error", "ttl": 99999}, "ttl"),
        ({"kind": "flood", "ttl": 5}, "kind"),
        ({"kind": "error", "ttl": 5, "rate": 2}, "rate"),
        ({"kind": "error", "ttl": 5, "status": 200}, "status"),
        ({"kind": "error", "ttl": 5, "path": "("}, "regular expression"),
        ({"kind": "breaker", "ttl": 5, "name": "nope", "state": "open"}, "no circuit breaker named"),
        ({"kind": "breaker", "ttl": 5, "name": "x", "state": "ajar"}, "state"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_injections_are_refused_clearly(body: object, message: str) -> None:
    health, _, _ = make()
    status, raw = call(health, "/health/chaos", method="POST", headers=AUTH, body=body)
    assert status == 400
    assert message in json.loads(raw)["error"]
