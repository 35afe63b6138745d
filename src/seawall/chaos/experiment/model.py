"""The experiment file: hypothesis, method, rollbacks, guards, allow-listed targets, expectations, seed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from seawall.chaos.experiment.objectives import (
    ErrorRateObjective,
    LatencyObjective,
    Traffic,
    percentile_shorthand,
)
from seawall.chaos.experiment.tolerance import check_tolerance
from seawall.chaos.faults.base import DEFAULT_PROXY_API
from seawall.chaos.faults.specs import FaultSpec
from seawall.config.probes import Frozen, ProbeSpec
from seawall.config.units import Duration


class Provider(Frozen):
    """How an activity runs, as in Chaos Toolkit: a process, an HTTP request or a Python function."""

    type: Literal["process", "http", "python"]
    path: str | None = Field(default=None, description="process: the program")
    arguments: list[str] | str | dict[str, Any] | None = None
    url: str | None = None
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration | list[float] = 10.0
    expected_status: int | None = None
    module: str | None = Field(default=None, description="python: the module")
    func: str | None = Field(default=None, description="python: the function")

    @model_validator(mode="after")
    def _fields_of_type(self) -> Provider:
        need = {"process": ("path",), "http": ("url",), "python": ("module", "func")}[self.type]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} provider needs {' and '.join(missing)}")
        return self

    @property
    def seconds(self) -> float:
        """The timeout in seconds (Chaos Toolkit allows [connect, read]: the sum bounds the call)."""
        return float(sum(self.timeout)) if isinstance(self.timeout, list) else float(self.timeout)


class ControlProvider(Frozen):
    """Where a control's hooks live: a Python module, imported like a python provider's."""

    type: Literal["python"] = "python"
    module: str
    arguments: dict[str, Any] = Field(default_factory=dict, description="passed to every hook")


class Control(Frozen):
    """A Chaos Toolkit control: hooks called around the experiment, hypothesis, method, rollbacks, activities.

    ``scope`` limits it to the ``before_*`` or ``after_*`` hooks; ``automatic`` (experiment level):
    whether it also applies to the hypothesis's probes, the method and every activity.
    """

    name: str = Field(min_length=1)
    provider: ControlProvider
    scope: Literal["before", "after"] | None = None
    automatic: bool = True


class Pauses(Frozen):
    """Pauses around an activity."""

    before: Duration = 0.0
    after: Duration = 0.0


class Activity(Frozen):
    """A probe or action: a stack probe (``probe: web.ready``), an inline check, or a provider."""

    name: str = ""
    type: Literal["probe", "action"] = "probe"
    probe: str | None = Field(default=None, description="component.role of a probe in seawall.yaml")
    check: ProbeSpec | None = Field(default=None, description="an inline probe: {http: url} ...")
    provider: Provider | None = None
    tolerance: Any = None
    background: bool = False
    pauses: Pauses = Field(default_factory=Pauses)
    controls: list[Control] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> Activity:
        sources = [s for s in ("probe", "check", "provider") if getattr(self, s) is not None]
        if len(sources) > 1:
            raise ValueError(f"an activity has one of probe, check or provider (got {', '.join(sources)})")
        if self.probe is not None and "." not in self.probe:
            raise ValueError(f"probe {self.probe!r} must be component.role, e.g. web.ready")
        check_tolerance(self.tolerance)
        return self

    @property
    def label(self) -> str:
        """The name, or a description of the source when unnamed."""
        if self.name:
            return self.name
        if self.probe:
            return self.probe
        if self.provider is not None:
            return self.provider.url or self.provider.path or f"{self.provider.module}.{self.provider.func}"
        return "check"


class Step(Activity):
    """One step of the method: a typed fault, a pause, or an activity."""

    fault: FaultSpec | None = None
    pause: Duration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        has_activity = any(getattr(self, s) is not None for s in ("probe", "check", "provider"))
        kinds = [k for k, present in (("fault", self.fault), ("pause", self.pause)) if present is not None]
        if len(kinds) + has_activity != 1:
            raise ValueError("a method step is exactly one of: fault, pause, probe, check or provider")
        if self.background and self.pause is not None:
            raise ValueError("background: true applies to a fault or an activity, not to a pause")
        return self

    @property
    def label(self) -> str:
        if self.fault is not None:
            return self.name or f"{self.fault.kind} fault"
        if self.pause is not None:
            return self.name or f"pause {self.pause:g}s"
        return super().label


class Guard(Activity):
    """A probe checked during the method; ``failures`` consecutive failures abort the run and restore."""

    failures: int = Field(default=2, ge=1)


class Hypothesis(Frozen):
    """The steady state: every probe must meet its tolerance; with ``traffic``, statistical objectives too.

    ``traffic`` drives the built-in request generator before, during and after the method;
    ``error_rate`` and ``latency`` (or its shorthand ``p95: {max: 300ms, window: 10s}``) are judged
    on the before and after phases; the during phase is reported as the faults' impact.
    """

    title: str = "steady state"
    probes: list[Activity] = Field(default_factory=list)
    traffic: Traffic | None = None
    error_rate: ErrorRateObjective | None = None
    latency: LatencyObjective | None = None
    controls: list[Control] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return percentile_shorthand(data)

    @model_validator(mode="after")
    def _traffic_and_objectives(self) -> Hypothesis:
        objectives = self.error_rate is not None or self.latency is not None
        if objectives and self.traffic is None:
            raise ValueError(
                "error_rate and latency objectives need `traffic: {url: ..., rate: 20/s}` to send requests"
            )
        if self.traffic is not None and not objectives:
            raise ValueError("traffic needs an objective: error_rate: {max: 1%, over: 200 requests} or p95")
        return self

    @property
    def statistical(self) -> bool:
        """Whether generated traffic is judged (before, during and after the method)."""
        return self.traffic is not None


class Expect(Frozen):
    """What recovery must look like."""

    recover_within: Duration | None = Field(default=None, description="after each fault's removal")


class RuntimeSettings(Frozen):
    """How the runner measures and where it finds the fault proxy."""

    proxy_api: str | None = Field(
        default=None,
        description=f"the fault proxy's control API (unset: the stack's own, else {DEFAULT_PROXY_API})",
    )
    probe_interval: Duration = Field(default=0.25, description="steady-state sampling while faults act")
    sustained: int = Field(default=3, ge=1, description="consecutive passes that make a recovery")
    recovery_timeout: Duration = Field(default=60.0, description="longest wait for recovery after removal")
    hypothesis: Literal["strict", "after"] = Field(
        default="strict", description="strict: a breach while faults act is a deviation; after: only after"
    )


class Experiment(Frozen):
    """A chaos experiment (Seawall's format; Chaos Toolkit files are converted on load)."""

    version: str = "1"
    title: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list, description="components/edges it may touch; 'host'")
    steady_state: Hypothesis = Field(default_factory=Hypothesis)
    method: list[Step] = Field(min_length=1)
    rollbacks: list[Activity] = Field(default_factory=list)
    guards: list[Guard] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    seed: int | None = None
    controls: list[Control] = Field(default_factory=list)
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="given to controls; ${VAR} placeholders expanded when they run"
    )
    secrets: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="scope -> name -> ${VAR}: given to controls resolved, never printed",
    )

    @field_validator("tags", "targets", mode="before")
    @classmethod
    def _one_string(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _faults_need_targets(self) -> Experiment:
        if any(step.fault is not None for step in self.method) and not self.targets:
            raise ValueError(
                "an experiment with faults needs `targets:` (the components, edges or 'host' it may touch)"
            )
        return self

    @property
    def faults(self) -> list[FaultSpec]:
        """The typed faults of the method, in order."""
        return [step.fault for step in self.method if step.fault is not None]


__all__ = [
    "Activity",
    "Control",
    "ControlProvider",
    "Expect",
    "Experiment",
    "Guard",
    "Hypothesis",
    "Pauses",
    "Provider",
    "RuntimeSettings",
    "Step",
]
