"""Periodic liveness and readiness probing of one supervised component."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from seawall import clock
from seawall.config import ProbeSpec
from seawall.probes import ProbeResult, Status
from seawall.runtime._recorder import Recorder

# run_probe applies the spec's timeout itself; this margin only guards against a probe that hangs.
HANG_MARGIN = 2.0


async def probe_once(spec: ProbeSpec) -> ProbeResult:
    """Run one probe; a hang or an unexpected error is a failed result, never an exception."""
    from seawall.probes import run_probe

    began = time.monotonic()
    try:
        return await asyncio.wait_for(run_probe(spec), spec.timeout + HANG_MARGIN)
    except TimeoutError:
        detail = f"timed out after {spec.timeout + HANG_MARGIN:g}s"
    except Exception as exc:
        detail = f"probe error: {type(exc).__name__}: {exc}"
    return ProbeResult(Status.FAIL, time.monotonic() - began, detail, observed_at=clock.now())


class ProbeLoop:
    """Runs one probe role of a component on its period and reports every result.

    Settings in ``__init__``, the loop in ``__call__`` (run as a task; cancelled when the
    process exits). Results are stored as samples; ``on_result`` acts on them.
    """

    def __init__(
        self,
        component: str,
        role: str,
        spec: ProbeSpec,
        *,
        recorder: Recorder,
        on_result: Callable[[ProbeResult], None],
        paused: Callable[[], bool],
    ) -> None:
        self.component = component
        self.role = role
        self.spec = spec
        self.recorder = recorder
        self.on_result = on_result
        self.paused = paused

    async def __call__(self) -> None:
        await asyncio.sleep(self.spec.initial_delay)
        while True:
            # a paused component is frozen on purpose: probing it would only count false failures
            if not self.paused():
                result = await probe_once(self.spec)
                self.recorder.sample(self.component, self.role, result)
                self.on_result(result)
            await asyncio.sleep(self.spec.period)
