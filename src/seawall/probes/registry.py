"""Which class runs each probe kind: ``build_check(spec)`` turns a ProbeSpec into a Check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from seawall.config.probes import ProbeKind, ProbeSpec
from seawall.probes.result import Check

if TYPE_CHECKING:
    from seawall.probes.http import HttpSessions

# Each kind lives in its own module, imported on first use, so a CLI command that never probes
# does not pay for importing aiohttp, psycopg, redis and pymysql at start-up.


def _http(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.http import HttpProbe

    assert spec.http is not None
    return HttpProbe(spec.http, spec.timeout, sessions)


def _tcp(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.tcp import TcpProbe

    assert spec.tcp is not None
    return TcpProbe(spec.tcp)


def _postgres(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.postgres import PostgresProbe

    assert spec.postgres is not None
    return PostgresProbe(spec.postgres, spec.timeout)


def _redis(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.redis import RedisProbe

    assert spec.redis is not None
    return RedisProbe(spec.redis, spec.timeout)


def _mysql(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.mysql import MysqlProbe

    assert spec.mysql is not None
    return MysqlProbe(spec.mysql, spec.timeout)


def _command(spec: ProbeSpec, sessions: HttpSessions | None) -> Check:
    from seawall.probes.command import CommandProbe

    assert spec.command is not None
    return CommandProbe(spec.command)


KINDS: dict[ProbeKind, Callable[[ProbeSpec, HttpSessions | None], Check]] = {
    "http": _http,
    "tcp": _tcp,
    "postgres": _postgres,
    "redis": _redis,
    "mysql": _mysql,
    "command": _command,
}


def build_check(spec: ProbeSpec, *, sessions: HttpSessions | None = None) -> Check:
    """The check for ``spec``'s kind; http checks share ``sessions`` (one aiohttp session) when given.

    Raises ConfigError when the spec cannot become a check (e.g. a malformed MySQL URL).
    """
    return KINDS[spec.kind](spec, sessions)
