"""Probe and smoke-check specifications of the stack model (what to check, how often, how strictly)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seawall.config.units import Duration


class Frozen(BaseModel):
    """Base for every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class HttpCheck(Frozen):
    """An HTTP request and what its response must look like."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    status: list[int] = Field(default_factory=lambda: [200, 299], description="[low, high] inclusive")
    body_contains: str | None = None
    json_path: str | None = Field(default=None, description="dotted path, e.g. status or checks.0.ok")
    json_equals: str | int | float | bool | None = None
    max_latency: Duration | None = Field(default=None, description="slower than this is 'warn'")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"url": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _status_range(self) -> HttpCheck:
        if len(self.status) not in (1, 2):
            raise ValueError("status must be one code or a [low, high] range")
        return self


class TcpCheck(Frozen):
    """A TCP connect to host:port."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, int):
            return {"port": data}
        if isinstance(data, str) and ":" in data:
            host, _, port = data.rpartition(":")
            return {"host": host or "127.0.0.1", "port": port}
        return data


class SqlCheck(Frozen):
    """A connection to a SQL server and a query that must succeed."""

    url: str
    query: str = "SELECT 1"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"url": data} if isinstance(data, str) else data


class RedisCheck(Frozen):
    """A Redis PING."""

    url: str = "redis://127.0.0.1:6379/0"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"url": data} if isinstance(data, str) else data


class CommandCheck(Frozen):
    """A command whose exit status 0 means pass."""

    argv: list[str]
    cwd: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, str):
            return {"argv": ["sh", "-c", data]}
        if isinstance(data, list):
            return {"argv": data}
        return data


ProbeKind = Literal["http", "tcp", "postgres", "redis", "mysql", "command"]
PROBE_KINDS: tuple[ProbeKind, ...] = ("http", "tcp", "postgres", "redis", "mysql", "command")


class ProbeSpec(Frozen):
    """One probe: exactly one kind key plus timing and thresholds (as in Kubernetes)."""

    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    postgres: SqlCheck | None = None
    redis: RedisCheck | None = None
    mysql: SqlCheck | None = Field(default=None, description="MariaDB or MySQL")
    command: CommandCheck | None = None
    period: Duration = 2.0
    timeout: Duration = 1.0
    initial_delay: Duration = 0.0
    failure_threshold: int = Field(default=3, ge=1)
    success_threshold: int = Field(default=1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _alias_mariadb(cls, data: object) -> object:
        if isinstance(data, dict) and "mariadb" in data and "mysql" not in data:
            data = dict(data)
            data["mysql"] = data.pop("mariadb")
        return data

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ProbeSpec:
        kinds = [k for k in PROBE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"a probe needs exactly one of {', '.join(PROBE_KINDS)}"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        if self.timeout <= 0:
            raise ValueError("timeout must be above 0")
        if self.period <= 0:
            raise ValueError("period must be above 0")
        return self

    @property
    def kind(self) -> ProbeKind:
        """Which check this probe runs."""
        return next(k for k in PROBE_KINDS if getattr(self, k) is not None)


class Probes(Frozen):
    """The three probe roles of a component."""

    startup: ProbeSpec | None = Field(default=None, description="others wait until it passes")
    ready: ProbeSpec | None = Field(default=None, description="gates dependents and traffic")
    live: ProbeSpec | None = Field(default=None, description="restart the component when it fails")

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: object) -> object:
        if isinstance(data, dict):
            renames = {"readiness": "ready", "liveness": "live"}
            data = {renames.get(k, k): v for k, v in data.items()}
        return data

    def items(self) -> list[tuple[str, ProbeSpec]]:
        """(role, spec) for each configured role, in startup/ready/live order."""
        return [(r, s) for r in ("startup", "ready", "live") if (s := getattr(self, r)) is not None]


class SqlWriteRead(Frozen):
    """A smoke check that writes a row into a scratch table and reads it back."""

    url: str
    table: str = "seawall_smoke"


class SmokeCheck(Frozen):
    """One declarative smoke check that exercises the data path."""

    name: str
    http: HttpCheck | None = None
    postgres: SqlWriteRead | None = None
    mysql: SqlWriteRead | None = None
    redis: RedisCheck | None = None
    sqlite: str | None = Field(default=None, description="path of a SQLite database")
    command: CommandCheck | None = None
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> SmokeCheck:
        kinds = [k for k in SMOKE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a smoke check needs exactly one of {', '.join(SMOKE_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        """Which check this smoke test runs."""
        return next(k for k in SMOKE_KINDS if getattr(self, k) is not None)


SMOKE_KINDS = ("http", "postgres", "mysql", "redis", "sqlite", "command")
