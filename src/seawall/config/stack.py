"""The stack model: the validated, frozen form of seawall.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from seawall.config.components import ComponentSpec
from seawall.config.graph import CycleError, start_order
from seawall.config.probes import Frozen, SmokeCheck
from seawall.config.units import Duration, Percent


class Retention(Frozen):
    """How many backups to keep, as in restic's forget policy."""

    keep_last: int | None = Field(default=None, ge=0)
    hourly: int | None = Field(default=None, ge=0)
    daily: int | None = Field(default=None, ge=0)
    weekly: int | None = Field(default=None, ge=0)
    monthly: int | None = Field(default=None, ge=0)
    yearly: int | None = Field(default=None, ge=0)
    keep_tags: list[str] = Field(default_factory=list)


class BackupSettings(Frozen):
    """Where and how backups are written."""

    repository: str = "./backups"
    compression: Literal["zstd", "none"] = "zstd"
    level: int = Field(default=3, ge=1, le=22)
    threads: int = Field(default=0, ge=0, description="0: one per core")
    parallel: int = Field(default=2, ge=1, description="datastores backed up at once")
    encryption: dict[str, Any] | None = None
    retention: Retention = Field(default_factory=Retention)


class Objectives(Frozen):
    """The stack's recovery objectives, measured by drills."""

    rto: Duration | None = None
    rpo: Duration | None = None
    mttr: Duration | None = None


class SliSpec(Frozen):
    """Where an SLO's good/total events come from."""

    probe: str | None = Field(default=None, description="component.role, e.g. api.ready")
    prometheus: dict[str, str] | None = None


class SloSpec(Frozen):
    """A service level objective."""

    name: str
    objective: Percent
    window: Duration = 30 * 86400.0
    sli: SliSpec


class StateSettings(Frozen):
    """Where Seawall keeps its state (SQLite, logs, sockets) for this stack."""

    path: str = ".seawall"


class StackConfig(Frozen):
    """A whole stack: components plus stack-wide settings."""

    stack: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=63)
    runtime: Literal["local", "compose", "kubernetes"] = "local"
    compose_file: str | None = Field(default=None, description="compose runtime: the project file")
    state: StateSettings = Field(default_factory=StateSettings)
    components: dict[str, ComponentSpec] = Field(default_factory=dict)
    smoke: list[SmokeCheck] = Field(default_factory=list)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    objectives: Objectives = Field(default_factory=Objectives)
    slos: list[SloSpec] = Field(default_factory=list)

    _root: Path = PrivateAttr(default=Path("."))
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _dependencies_exist_and_are_acyclic(self) -> StackConfig:
        for name, comp in self.components.items():
            for dep in comp.depends_on:
                if dep not in self.components:
                    raise ValueError(f"component {name!r} depends on unknown component {dep!r}")
            for target in comp.edges:
                if target not in self.components:
                    raise ValueError(f"component {name!r} has an edge to unknown component {target!r}")
        try:
            start_order(self.dependencies())
        except CycleError as exc:
            raise ValueError(str(exc)) from None
        return self

    def dependencies(self) -> dict[str, list[str]]:
        """Component name -> names it depends on."""
        return {name: list(c.depends_on) for name, c in self.components.items()}

    def waves(self) -> list[list[str]]:
        """Start order in waves of independent components."""
        return start_order(self.dependencies())

    @property
    def root(self) -> Path:
        """The directory relative paths in the file are resolved against."""
        return self._root

    @property
    def source(self) -> Path | None:
        """The file this config was read from, if any."""
        return self._source

    def bind(self, root: Path, source: Path | None) -> StackConfig:
        """Attach the directory and file this config came from (called by the loader)."""
        self._root = root
        self._source = source
        return self

    def resolve(self, path: str) -> Path:
        """A path from the file, made absolute against the stack directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self._root / p).resolve()

    @property
    def state_dir(self) -> Path:
        """The stack's state directory (SQLite store, logs, supervisor socket)."""
        return self.resolve(self.state.path)
