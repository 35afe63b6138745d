"""Chaos hooks: token-guarded, time-limited latency, errors and forced breakers."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from seawall.resilience import PolicyConfigError, Registry, default_registry

from ._http import Receive, Scope, Send, header, read_body, send_json

__all__ = ["ChaosHooks", "Injection"]

_MIN_TOKEN = 16


@dataclass(frozen=True, slots=True)
class Injection:
    """One active fault: ``latency``, ``error`` or ``breaker``, until ``expires_at``."""

    id: int
    kind: str
    expires_at: float
    path: re.Pattern[str] | None = None
    rate: float = 1.0
    seconds: float = 0.0
    status: int = 503
    breaker: str = ""
    state: str = ""

    def describe(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "ttl": round(self.expires_at - now, 3)}
        if self.kind != "breaker":
            out.update(rate=self.rate, path=self.path.pattern if self.path else None)
        if self.kind == "latency":
            out["seconds"] = self.seconds
        elif self.kind == "error":
            out["status"] = self.status
        else:
            out.update(name=self.breaker, state=self.state)
        return out


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{key} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


class ChaosHooks:
    """Faults a chaos experiment can switch on from outside, through one admin endpoint.

    Off unless given a token (at least 16 characters); every request to the endpoint must
    carry ``Authorization: Bearer <token>``. ``POST`` a JSON injection, ``GET`` the active
    ones, ``DELETE`` them all (forced breakers are reset). Every injection has a ``ttl``
    (seconds, at most ``max_ttl``) after which it disappears by itself.
    """

    def __init__(
        self,
        token: str | None,
        *,
        registry: Registry | None = None,
        max_ttl: float = 3600.0,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if token is not None and len(token) < _MIN_TOKEN:
            raise ValueError(f"a chaos token needs at least {_MIN_TOKEN} characters")
        self._token = token.encode() if token else None
        self.registry = registry if registry is not None else default_registry
        self.max_ttl = max_ttl
        self._rand = rand
        self._clock = clock
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._active: dict[int, Injection] = {}

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def active(self) -> list[Injection]:
        """Injections still alive now (expired ones are removed, breakers reset)."""
        now = self._clock()
        for injection in [i for i in self._active.values() if i.expires_at <= now]:
            self._remove(injection.id)
        return list(self._active.values())

    def _remove(self, ident: int) -> None:
        injection = self._active.pop(ident, None)
        if injection is not None and injection.kind == "breaker":
            # If the breaker went away meanwhile there is nothing to undo.
            with contextlib.suppress(PolicyConfigError):
                self.registry.get_breaker(injection.breaker).reset()

    def clear(self) -> None:
        for ident in list(self._active):
            self._remove(ident)

    def inject(self, body: dict[str, Any]) -> Injection:
        """Start the injection ``body`` describes; raises ValueError on bad input."""
        kind = body.get("kind")
        ttl = _number(body, "ttl", -1, 0.001, self.max_ttl) if "ttl" in body else None
        if ttl is None:
            raise ValueError("every injection needs a ttl (seconds)")
        common: dict[str, Any] = {"id": next(self._ids), "kind": kind, "expires_at": self._clock() + ttl}
        if kind in ("latency", "error"):
            pattern = body.get("path")
            try:
                common["path"] = re.compile(pattern) if pattern else None
            except (re.error, TypeError) as exc:
                raise ValueError(f"path is not a regular expression: {exc}") from None
            common["rate"] = _number(body, "rate", 1.0, 0.0, 1.0)
        if kind == "latency":
            injection = Injection(**common, seconds=_number(body, "seconds", 0.1, 0.0, 300.0))
        elif kind == "error":
            injection = Injection(**common, status=int(_number(body, "status", 503, 400, 599)))
        elif kind == "breaker":
            state = body.get("state")
            if state not in ("open", "closed"):
                raise ValueError("breaker state must be 'open' or 'closed'")
            name = str(body.get("name", ""))
            try:
                target = self.registry.get_breaker(name)
            except PolicyConfigError as exc:
                raise ValueError(str(exc)) from None
            injection = Injection(**common, breaker=name, state=state)
            target.force_open() if state == "open" else target.force_closed()
        else:
            raise ValueError("kind must be 'latency', 'error' or 'breaker'")
        self._active[injection.id] = injection
        if kind == "breaker":
            # Without a running loop, expiry happens on the next request instead.
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_later(ttl, self.active)
        return injection

    async def apply(self, scope: Scope, send: Send) -> bool:
        """Inject faults into an app request; True when an error response was sent."""
        if not self._active:
            return False
        path = scope.get("path", "")
        for injection in self.active():
            if injection.kind == "breaker" or (injection.path and not injection.path.search(path)):
                continue
            if injection.rate < 1.0 and self._rand() >= injection.rate:
                continue
            if injection.kind == "latency":
                await self._sleep(injection.seconds)
            else:
                await send_json(
                    send, injection.status, {"error": "injected by seawall chaos", "injection": injection.id}
                )
                return True
        return False

    def _authorised(self, scope: Scope) -> bool:
        given = header(scope, b"authorization") or b""
        expected = b"Bearer " + (self._token or b"")
        return self._token is not None and hmac.compare_digest(given, expected)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the admin endpoint."""
        if not self._authorised(scope):
            await send_json(send, 401, {"error": "missing or wrong chaos token"})
            return
        method = scope.get("method", "GET")
        now = self._clock()
        if method == "GET":
            await send_json(send, 200, {"injections": [i.describe(now) for i in self.active()]})
        elif method == "DELETE":
            self.clear()
            await send_json(send, 200, {"injections": []})
        elif method == "POST":
            try:
                body = json.loads(await read_body(receive) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                injection = self.inject(body)
            except ValueError as exc:
                await send_json(send, 400, {"error": str(exc)})
                return
            await send_json(send, 201, injection.describe(now))
        else:
            await send_json(send, 405, {"error": f"method {method} not allowed"})
