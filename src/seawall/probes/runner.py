"""Running probes: one attempt under its timeout, or many at once with bounded concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from seawall.config.probes import ProbeSpec
from seawall.errors import SeawallError
from seawall.probes.outcome import Stopwatch, shorten, timed_out
from seawall.probes.redact import redact, secrets_of
from seawall.probes.registry import build_check
from seawall.probes.result import Check, ProbeResult, ProbeTarget

if TYPE_CHECKING:
    from seawall.probes.http import HttpSessions

DEFAULT_CONCURRENCY = 256

log = logging.getLogger("seawall.probes")


async def run_probe(spec: ProbeSpec) -> ProbeResult:
    """Run ``spec`` once within ``spec.timeout``; every failure is a FAIL result, never an exception."""
    sessions = _sessions_for([spec], limit=1)
    try:
        return await _attempt(spec, _build(spec, sessions))
    finally:
        if sessions is not None:
            await sessions.close()


async def run_probes(
    items: Sequence[tuple[ProbeTarget, ProbeSpec]], concurrency: int = DEFAULT_CONCURRENCY
) -> list[tuple[ProbeTarget, ProbeResult]]:
    """Run every probe once, at most ``concurrency`` at a time; results keep the order of ``items``.

    All http probes of the call share one connection pool, closed before this returns.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    sessions = _sessions_for([spec for _, spec in items], limit=concurrency)
    # built before any probe starts, so importing a kind's driver is not counted as its latency
    checks = [_build(spec, sessions) for _, spec in items]

    async def one(spec: ProbeSpec, check: Check | str) -> ProbeResult:
        async with gate:
            return await _attempt(spec, check)

    try:
        pending = [one(spec, check) for (_, spec), check in zip(items, checks, strict=True)]
        results = await asyncio.gather(*pending)
    finally:
        if sessions is not None:
            await sessions.close()
    return [(target, result) for (target, _), result in zip(items, results, strict=True)]


def run_probes_sync(
    items: Sequence[tuple[ProbeTarget, ProbeSpec]], concurrency: int = DEFAULT_CONCURRENCY
) -> list[tuple[ProbeTarget, ProbeResult]]:
    """``run_probes`` for synchronous callers such as the CLI (starts its own event loop)."""
    return asyncio.run(run_probes(items, concurrency))


def _sessions_for(specs: Sequence[ProbeSpec], limit: int) -> HttpSessions | None:
    # only a run with http probes imports aiohttp; the session itself opens on first request
    if not any(spec.http is not None for spec in specs):
        return None
    from seawall.probes.http import HttpSessions

    return HttpSessions(limit=limit)


def _build(spec: ProbeSpec, sessions: HttpSessions | None) -> Check | str:
    """The check, or why it cannot be built (e.g. a malformed URL) as a detail for a FAIL."""
    try:
        return build_check(spec, sessions=sessions)
    except SeawallError as exc:
        return redact(shorten(exc.message), _secrets(spec))


async def _attempt(spec: ProbeSpec, check: Check | str) -> ProbeResult:
    watch = Stopwatch()
    if isinstance(check, str):
        result = watch.failed(check)
    else:
        try:
            async with asyncio.timeout(spec.timeout):
                result = await check()
        except TimeoutError:
            result = watch.failed(timed_out(spec.timeout))
        except Exception as exc:  # a probe must never take its caller down
            log.warning("%s probe raised unexpectedly", spec.kind, exc_info=True)
            detail = shorten(f"probe error: {type(exc).__name__}: {exc}")
            result = watch.failed(redact(detail, _secrets(spec)))
    return dataclasses.replace(result, observed={"kind": spec.kind, **result.observed})


def _secrets(spec: ProbeSpec) -> tuple[str, ...]:
    check = spec.http or spec.postgres or spec.mysql or spec.redis
    return secrets_of(check.url) if check is not None else ()
