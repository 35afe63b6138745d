"""The http probe kind: a request whose status, body text, JSON value and latency are checked."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from seawall.config.probes import HttpCheck
from seawall.probes.jsonpath import check_json
from seawall.probes.outcome import Stopwatch, describe_os_error, shorten, timed_out
from seawall.probes.redact import redact, secrets_of
from seawall.probes.result import ProbeResult, Status

USER_AGENT = "seawall-probe"


class HttpSessions:
    """One aiohttp session shared by many http probes: created on first use, closed by ``close``.

    Sharing it lets probes of the same host reuse keep-alive connections; its connector allows
    ``limit`` connections in all and any number per host, since one run may target one host only.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session, created now if this is the first use (needs a running event loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=0, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # probes must not carry state between runs
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        """Close the session and its connections, if it was ever created."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


class HttpProbe:
    """Pass when the response status is in range, and the body and JSON checks (if any) hold.

    A passing response slower than ``max_latency`` is a warning.
    """

    def __init__(self, check: HttpCheck, timeout: float, sessions: HttpSessions | None = None) -> None:
        self.check = check
        self.timeout = timeout
        self._sessions = sessions
        self._status_range = (check.status[0], check.status[-1])
        self._secrets = secrets_of(check.url)

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        sessions = self._sessions or HttpSessions(limit=1)
        try:
            return await self._attempt(sessions.get(), watch)
        except aiohttp.ClientError as exc:
            return watch.failed(redact(self._describe(exc), self._secrets))
        except TimeoutError:  # aiohttp's own per-request timeout
            return watch.failed(timed_out(self.timeout))
        finally:
            if self._sessions is None:
                await sessions.close()

    async def _attempt(self, session: aiohttp.ClientSession, watch: Stopwatch) -> ProbeResult:
        check = self.check
        async with session.request(
            check.method,
            check.url,
            headers=check.headers,
            data=check.body,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as response:
            body = await response.read()
            code = response.status
        latency = watch.elapsed
        low, high = self._status_range
        if not low <= code <= high:
            return watch.failed(f"HTTP {code}", http_status=code)
        if check.body_contains is not None:
            text = body.decode(response.charset or "utf-8", errors="replace")
            if check.body_contains not in text:
                return watch.failed(f"body does not contain {check.body_contains!r}", http_status=code)
        if check.json_path is not None:
            try:
                document = json.loads(body)
            except ValueError:
                return watch.failed("body is not JSON", http_status=code)
            problem = check_json(document, check.json_path, check.json_equals)
            if problem:
                return watch.failed(problem, http_status=code)
        if check.max_latency is not None and latency > check.max_latency:
            slow = f"HTTP {code}, slow: {latency * 1000:.0f}ms > {check.max_latency * 1000:.0f}ms"
            return watch.result(Status.WARN, slow, http_status=code)
        return watch.passed(f"HTTP {code}", http_status=code)

    def _describe(self, exc: aiohttp.ClientError) -> str:
        if isinstance(exc, asyncio.TimeoutError):
            return timed_out(self.timeout)
        if isinstance(exc, aiohttp.ClientSSLError):
            return shorten(f"TLS error: {exc}")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return describe_os_error(exc.os_error, exc.host)
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "server closed the connection"
        if isinstance(exc, aiohttp.InvalidURL):
            return "invalid URL"
        if isinstance(exc, aiohttp.ClientPayloadError):
            return "incomplete response body"
        if isinstance(exc, aiohttp.TooManyRedirects):
            return "too many redirects"
        return shorten(f"{type(exc).__name__}: {exc}")
