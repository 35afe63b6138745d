"""The postgres probe kind: connect to PostgreSQL and run a query (``SELECT 1`` by default)."""

from __future__ import annotations

import math
import re

import psycopg

from seawall.config.probes import SqlCheck
from seawall.probes.outcome import Stopwatch, shorten
from seawall.probes.redact import redact, secrets_of
from seawall.probes.result import ProbeResult

# libpq wraps the server's reason in context that says nothing a reader needs twice
_NOISE = re.compile(
    r'^(connection failed: )?(connection to server at "[^"]*"(, port \d+)? failed: )?(FATAL: +)?'
)


class PostgresProbe:
    """Pass when a new connection opens and the query runs; the connection is always closed."""

    def __init__(self, check: SqlCheck, timeout: float) -> None:
        self.url = check.url
        self.query = check.query
        # libpq takes whole seconds and treats anything under 2 as 2; the caller's timeout still rules
        self._connect_timeout = max(2, math.ceil(timeout))
        self._secrets = secrets_of(check.url)

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, connect_timeout=self._connect_timeout, autocommit=True
            )
        except psycopg.Error as exc:
            return watch.failed(self._describe(exc))
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(self.query.encode())
                if cursor.description is not None:
                    await cursor.fetchall()
        except psycopg.Error as exc:
            return watch.failed("query failed: " + self._describe(exc))
        finally:
            await conn.close()
        return watch.passed("query ok")

    def _describe(self, exc: psycopg.Error) -> str:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = _NOISE.sub("", first)
        if reason.lower().startswith("connection refused"):
            reason = "connection refused"
        return redact(shorten(reason), self._secrets)
