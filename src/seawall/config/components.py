"""Component specifications: how to run one part of the stack, restart it, limit it and back it up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from seawall.config.probes import Frozen, Probes
from seawall.config.units import Duration, Size

DependencyCondition = Literal["started", "ready", "completed"]
_COMPOSE_CONDITIONS = {
    "service_started": "started",
    "service_healthy": "ready",
    "service_completed_successfully": "completed",
}


class Dependency(Frozen):
    """What a component waits for before it starts."""

    condition: DependencyCondition = "ready"

    @model_validator(mode="before")
    @classmethod
    def _compose_names(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("condition"), str):
            data = dict(data)
            data["condition"] = _COMPOSE_CONDITIONS.get(data["condition"], data["condition"])
        return data


class Backoff(Frozen):
    """Exponential backoff between restarts: initial * multiplier**n, capped at max."""

    initial: Duration = 0.5
    max: Duration = 30.0
    multiplier: float = Field(default=2.0, ge=1.0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based)."""
        return float(min(self.max, self.initial * self.multiplier ** max(0, attempt - 1)))


class RestartPolicy(Frozen):
    """When the supervisor restarts a component that exited or failed its liveness probe."""

    policy: Literal["no", "on-failure", "always"] = "on-failure"
    max_retries: int | None = Field(default=5, ge=0, description="null: unlimited")
    backoff: Backoff = Field(default_factory=Backoff)
    reset_after: Duration = Field(
        default=60.0, description="running this long without a crash resets the retry count"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if data is False:
            return {"policy": "no"}
        if isinstance(data, str):
            # compose's unless-stopped: a component stopped on purpose is never restarted anyway
            return {"policy": "always", "max_retries": None} if data == "unless-stopped" else {"policy": data}
        return data


class Resources(Frozen):
    """Resource limits, enforced where the OS lets us (see `seawall status`)."""

    memory: Size | None = Field(default=None, description="e.g. 256Mi")
    cpus: float | None = Field(default=None, gt=0, description="CPU cores, e.g. 0.5")
    open_files: int | None = Field(default=None, gt=0)


DatastoreKind = Literal["postgres", "redis", "mysql", "sqlite", "files", "s3"]


class DatastoreSpec(Frozen):
    """Where a component keeps data, and how to reach it for probes, storage and backups."""

    kind: DatastoreKind
    url: str | None = Field(default=None, description="postgres/redis/mysql/s3 connection URL")
    path: str | None = Field(default=None, description="sqlite file or files directory")
    exclude: list[str] = Field(default_factory=list, description="glob patterns (files)")
    bucket: str | None = None
    volume: str | None = Field(default=None, description="compose volume holding the data")
    jobs: int = Field(
        default=1,
        ge=1,
        le=64,
        description="postgres: parallel pg_dump/pg_restore jobs; above 1 the dump uses the directory"
        " format, staged on the repository's disk (about the database's size free)",
    )

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("kind") == "mariadb":
            data = {**data, "kind": "mysql"}
        return data

    @model_validator(mode="after")
    def _needs_location(self) -> DatastoreSpec:
        if self.kind in ("postgres", "redis", "mysql", "s3") and not self.url:
            raise ValueError(f"a {self.kind} datastore needs a url")
        if self.kind in ("sqlite", "files") and not self.path:
            raise ValueError(f"a {self.kind} datastore needs a path")
        if self.jobs > 1 and self.kind != "postgres":
            raise ValueError(f"jobs applies to postgres datastores only, not {self.kind}")
        return self


class ComponentSpec(Frozen):
    """One component of the stack: a process (or container), its checks and its data."""

    command: list[str] | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    image: str | None = Field(default=None, description="container image (compose runtime)")
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    probes: Probes = Field(default_factory=Probes)
    restart: RestartPolicy = Field(default_factory=RestartPolicy)
    resources: Resources = Field(default_factory=Resources)
    datastore: DatastoreSpec | None = None
    ports: list[int] = Field(default_factory=list, description="ports this component binds")
    volumes: list[str] = Field(default_factory=list)
    one_shot: bool = Field(default=False, description="a job: exit 0 counts as completed")
    start_timeout: Duration = 60.0
    stop_grace: Duration = 10.0
    edges: dict[str, str] = Field(
        default_factory=dict, description="component called -> env var holding its address"
    )

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: object) -> object:
        if isinstance(value, str):
            import shlex

            return shlex.split(value)
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _list_form(cls, value: object) -> object:
        if isinstance(value, list):
            return {name: {} for name in value}
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, value: object) -> object:
        if isinstance(value, list):
            pairs = (str(item).partition("=") for item in value)
            return {k: v for k, _, v in pairs}
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_shot_restart(self) -> ComponentSpec:
        if self.one_shot and self.restart.policy == "always":
            raise ValueError("a one_shot component cannot use restart policy 'always'")
        return self
