"""The redis probe kind: a PING over a new connection."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis.asyncio as aredis
import redis.exceptions as rex
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from seawall.config.probes import RedisCheck
from seawall.probes.outcome import Stopwatch, describe_os_error, shorten, timed_out
from seawall.probes.redact import redact, secrets_of
from seawall.probes.result import ProbeResult


class RedisProbe:
    """Pass when Redis answers PING; the client is always closed."""

    def __init__(self, check: RedisCheck, timeout: float) -> None:
        self.url = check.url
        self.timeout = timeout
        self._secrets = secrets_of(check.url)

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        client = aredis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # one attempt: retrying is the prober's business
        )
        try:
            await client.ping()
        except rex.RedisError as exc:
            return watch.failed(redact(self._describe(exc), self._secrets))
        finally:
            await client.aclose()
        return watch.passed("PONG")

    def _describe(self, exc: rex.RedisError) -> str:
        if isinstance(exc, rex.TimeoutError):
            return timed_out(self.timeout)
        if isinstance(exc, rex.AuthenticationError):
            return shorten(f"authentication failed: {exc}")
        cause = exc.__cause__ or exc.__context__
        if isinstance(exc, rex.ConnectionError) and isinstance(cause, OSError):
            return describe_os_error(cause, urlsplit(self.url).hostname)
        return shorten(str(exc) or type(exc).__name__)
