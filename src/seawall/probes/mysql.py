"""The mysql probe kind (MariaDB or MySQL): connect and run a query, in a worker thread."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import pymysql

from seawall.config.probes import SqlCheck
from seawall.errors import ConfigError
from seawall.probes.outcome import Stopwatch, describe_os_error, shorten, timed_out
from seawall.probes.redact import redact, redact_url, secrets_of
from seawall.probes.result import ProbeResult

SCHEMES = ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql")
DEFAULT_PORT = 3306


@dataclass(frozen=True, slots=True)
class MysqlTarget:
    """Connection settings parsed from ``mysql://user:password@host:port/database``."""

    host: str
    port: int
    user: str
    password: str
    database: str | None

    @classmethod
    def from_url(cls, url: str) -> MysqlTarget:
        """Parse a mysql:// or mariadb:// URL; user defaults to root, host to 127.0.0.1."""
        try:
            parts = urlsplit(url)
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ConfigError(f"invalid MySQL URL {redact_url(url)!r}: {exc}") from exc
        if parts.scheme not in SCHEMES:
            raise ConfigError(
                f"invalid MySQL URL {redact_url(url)!r}: the scheme must be one of {', '.join(SCHEMES)}"
            )
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/")) or None,
        )

    def connect(
        self,
        timeout: float,
        *,
        database: str | bool = True,
        autocommit: bool = False,
        bounded_io: bool = True,
    ) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
        """A new connection in utf8mb4; ``database``: True for the URL's, False for none, or a name.

        ``timeout`` bounds the connect, and reads and writes too unless ``bounded_io`` is False
        (a backup's long snapshot queries must not be cut off).
        """
        name = self.database if database is True else None if database is False else database
        io = timeout if bounded_io else None
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=name,
            connect_timeout=timeout,
            read_timeout=io,
            write_timeout=io,
            autocommit=autocommit,
            charset="utf8mb4",
        )


class MysqlProbe:
    """Pass when a new connection opens and the query runs; the connection is always closed.

    PyMySQL blocks, so the attempt runs in a thread; its own connect and read timeouts bound
    that thread even after the caller has stopped waiting.
    """

    def __init__(self, check: SqlCheck, timeout: float) -> None:
        self.target = MysqlTarget.from_url(check.url)
        self.query = check.query
        self.timeout = timeout
        self._secrets = (*secrets_of(check.url), self.target.password)

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        try:
            await asyncio.to_thread(self._attempt)
        except pymysql.MySQLError as exc:
            return watch.failed(redact(self._describe(exc), self._secrets))
        return watch.passed("query ok")

    def _attempt(self) -> None:
        conn = self.target.connect(self.timeout)
        try:
            with conn.cursor() as cursor:
                cursor.execute(self.query)
                cursor.fetchall()
        finally:
            if conn.open:  # a timed-out connection is already closed, and closing again raises
                conn.close()

    def _describe(self, exc: pymysql.MySQLError) -> str:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, TimeoutError):
            return timed_out(self.timeout)
        if isinstance(cause, OSError):
            return describe_os_error(cause, self.target.host)
        if len(exc.args) >= 2 and isinstance(exc.args[1], str):
            return shorten(exc.args[1])  # args are (error code, server message)
        return shorten(str(exc) or type(exc).__name__)
