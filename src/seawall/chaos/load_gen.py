"""A light async HTTP request generator: fixed rate, bounded concurrency, count and time; stops by itself."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp

MAX_RATE = 1000.0  # requests per second
MAX_CONCURRENCY = 64
_TICK = 0.05  # longest sleep between checks of the stop event


@dataclass(frozen=True, slots=True)
class RequestSample:
    """One request: when it was sent (monotonic seconds), how long it took, and how it ended.

    ``status`` is None when no response arrived (refused, reset, timed out); ``ok`` is a response
    whose status is in the generator's ``ok_status`` (2xx/3xx by default).
    """

    start: float
    latency: float
    status: int | None
    ok: bool
    error: str = ""


class RequestGenerator:
    """Sends ``rate`` requests per second to one URL with at most ``concurrency`` in flight.

    Requests are dispatched on a fixed schedule (request *i* at ``t0 + i / rate``); when every
    slot is busy the schedule slips rather than piling up, and latency is measured from the
    actual send. A run ends at ``max_requests``, at ``max_seconds`` or when ``stop`` is set,
    whichever comes first; requests still in flight then finish within their ``timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        concurrency: int = 4,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        timeout: float = 2.0,
        ok_status: Sequence[int] | None = None,
    ) -> None:
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be above 0 and at most {MAX_RATE:g} requests per second")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        if timeout <= 0:
            raise ValueError("timeout must be above 0")
        self.url = url
        self.rate = rate
        self.concurrency = concurrency
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.body = body
        self.timeout = timeout
        self.ok_status = None if ok_status is None else frozenset(ok_status)

    def _is_ok(self, status: int) -> bool:
        return status in self.ok_status if self.ok_status is not None else 200 <= status < 400

    async def _one(self, session: aiohttp.ClientSession, samples: list[RequestSample]) -> None:
        start = time.monotonic()
        try:
            async with session.request(
                self.method, self.url, headers=self.headers, data=self.body, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            samples.append(RequestSample(start, time.monotonic() - start, None, False, error))
            return
        ok = self._is_ok(status)
        samples.append(
            RequestSample(start, time.monotonic() - start, status, ok, "" if ok else f"HTTP {status}")
        )

    async def arun(
        self,
        max_requests: int,
        max_seconds: float,
        stop: threading.Event | None = None,
        samples: list[RequestSample] | None = None,
    ) -> list[RequestSample]:
        """Send until one of the bounds is reached; the samples (appended to ``samples``) as requests end."""
        if max_requests < 1 or max_seconds <= 0:
            raise ValueError("a run needs at least one request and a positive duration")
        samples = [] if samples is None else samples
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def slot() -> None:
                try:
                    await self._one(session, samples)
                finally:
                    slots.release()

            t0 = time.monotonic()
            deadline = t0 + max_seconds
            sent = 0
            while sent < max_requests and not (stop is not None and stop.is_set()):
                due = t0 + sent / self.rate
                now = time.monotonic()
                if due >= deadline or now >= deadline:
                    break
                if due > now:
                    await asyncio.sleep(min(due - now, _TICK))
                    continue
                if slots.locked():  # every slot busy: the schedule slips
                    await asyncio.sleep(min(_TICK, deadline - now))
                    continue
                await slots.acquire()
                task = asyncio.create_task(slot())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            if tasks:
                # every request carries its own total timeout: this wait is bounded by it
                _, late = await asyncio.wait(set(tasks), timeout=self.timeout + 1.0)
                for task in late:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return samples

    def run(
        self,
        max_requests: int,
        max_seconds: float,
        stop: threading.Event | None = None,
        samples: list[RequestSample] | None = None,
    ) -> list[RequestSample]:
        """``arun`` in a fresh event loop (the calling thread must not run one)."""
        return asyncio.run(self.arun(max_requests, max_seconds, stop, samples))


class BackgroundTraffic:
    """A generator running in its own thread until ``stop()`` (or its own bounds)."""

    def __init__(self, generator: RequestGenerator, max_requests: int, max_seconds: float) -> None:
        self.generator = generator
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.samples: list[RequestSample] = []
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin sending."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="chaos-traffic", daemon=True)
            self._thread.start()

    def _main(self) -> None:
        try:
            self.generator.run(self.max_requests, self.max_seconds, self._stop, self.samples)
        except Exception as exc:  # reported in the run's notes, never raised into the runner
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> list[RequestSample]:
        """Stop sending, wait for requests in flight (bounded by their timeout); the samples."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.generator.timeout + 5.0)
            self._thread = None
        return list(self.samples)


__all__ = ["MAX_CONCURRENCY", "MAX_RATE", "BackgroundTraffic", "RequestGenerator", "RequestSample"]
