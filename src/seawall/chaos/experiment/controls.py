"""Chaos Toolkit controls at run time: hooks called as chaostoolkit-lib calls them, never fatal to the run.

A control's module is imported like a python provider's. Each hook gets only the arguments its
signature names (``context`` always; ``state``, ``configuration``, ``secrets``, ``experiment``,
``settings``, ``extensions`` if asked) plus the control's own ``arguments``. A hook that raises is
logged and recorded; one that raises chaostoolkit's ``InterruptExecution`` (matched by class name:
chaoslib need not be installed) stops the method, and the restore runs as always.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from seawall import clock
from seawall.chaos.experiment.activities import ActivityResult
from seawall.chaos.experiment.model import Activity, Control, Experiment
from seawall.chaos.experiment.placeholders import expand, hide, register_secret
from seawall.errors import ConfigError

log = logging.getLogger("seawall.chaos")

LEVELS = ("experiment", "hypothesis", "method", "rollback", "activity")
HOOKS = (
    "configure_control",
    "cleanup_control",
    *(f"{scope}_{level}_control" for level in LEVELS for scope in ("before", "after")),
)
_OPTIONAL = ("state", "configuration", "secrets", "experiment", "settings", "extensions")


class ControlInterrupt(Exception):
    """A control raised InterruptExecution: the method stops; inverses and rollbacks still run."""

    def __init__(self, control: str, hook: str, message: str) -> None:
        super().__init__(message)
        self.control = control
        self.hook = hook
        self.message = message


def _interrupts(exc: BaseException) -> bool:
    return any(cls.__name__ == "InterruptExecution" for cls in type(exc).__mro__)


def all_controls(experiment: Experiment) -> list[Control]:
    """Every control the experiment declares, at any level, in chaostoolkit-lib's order."""
    hypothesis = experiment.steady_state
    found = [*experiment.controls, *hypothesis.controls]
    for activity in [*hypothesis.probes, *experiment.method, *experiment.rollbacks]:
        found.extend(activity.controls)
    return found


def unique(controls: Sequence[Control]) -> list[Control]:
    """The first control of each name (configure and cleanup are called once per name)."""
    seen: dict[str, Control] = {}
    for control in controls:
        seen.setdefault(control.name, control)
    return list(seen.values())


def applicable(level: str, top: Sequence[Control], own: Sequence[Control]) -> list[Control]:
    """The controls applied at ``level``, merged as chaostoolkit-lib's ``get_context_controls`` does.

    The experiment applies its own; the method and rollbacks its automatic ones; a hypothesis or an
    activity its own, after the automatic experiment-level ones it does not override by name.
    """
    automatic = [c for c in top if c.automatic]
    if level == "experiment":
        return list(top)
    if level in ("method", "rollback") or not own:
        return automatic
    names = {c.name for c in own}
    return [*(c for c in automatic if c.name not in names), *own]


def activity_context(activity: Activity) -> dict[str, Any]:
    """An activity as the ``context`` of its control hooks."""
    return {**activity.model_dump(mode="json", exclude_none=True), "name": activity.label}


def entries(results: Sequence[ActivityResult]) -> list[dict[str, Any]]:
    """Results as journal entries: the ``state`` of after-hypothesis and after-rollback hooks."""
    return [r.to_journal() for r in results]


def import_module(control: Control) -> ModuleType:
    """The control's module; ImportError (or what it raised while loading) propagates."""
    return importlib.import_module(control.provider.module)


def check_controls(experiment: Experiment, source: Path | str | None = None) -> None:
    """ConfigError (exit 2) unless every control's module imports and defines at least one hook."""
    checked: set[str] = set()
    for control in all_controls(experiment):
        module_name = control.provider.module
        if module_name in checked:
            continue
        checked.add(module_name)
        try:
            module = import_module(control)
        except Exception as exc:  # what a module raises while loading is the user's to fix
            raise ConfigError(
                f"control {control.name!r}: cannot import {module_name}: {exc}",
                file=source,
                hint="install it, or run from the directory that holds it (as for python providers)",
            ) from None
        if not any(callable(getattr(module, hook, None)) for hook in HOOKS):
            raise ConfigError(
                f"control {control.name!r}: {module_name} defines none of the control hooks "
                f"({', '.join(HOOKS)})",
                file=source,
            )


@dataclass
class _State:
    """What the block reports to the ``after_*`` hooks (chaoslib's ``Control.with_state``)."""

    value: Any = None


class ControlHooks:
    """The controls of one run: configure, before/after each level, cleanup; every call recorded."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.top = list(experiment.controls)
        self.declared = unique(all_controls(experiment))
        self.entries: list[dict[str, Any]] = []  # the journal's controls section
        self.interrupt: ControlInterrupt | None = None  # raised by a hook in a background thread
        self._lock = threading.Lock()
        self._modules: dict[str, ModuleType | None] = {}
        self._doc: dict[str, Any] | None = None
        self.configuration: dict[str, Any] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        if self.declared:
            self.configuration = expand(experiment.configuration)
            self.secrets = {scope: expand(values) for scope, values in experiment.secrets.items()}
            for values in self.secrets.values():
                for value in values.values():
                    register_secret(str(value))

    @property
    def doc(self) -> dict[str, Any]:
        """The experiment as a mapping: the ``context`` of experiment, method and rollback hooks."""
        if self._doc is None:
            self._doc = self.experiment.model_dump(mode="json", exclude_none=True)
        return self._doc

    # the phases -----------------------------------------------------------------------------------

    def configure(self) -> None:
        """``configure_control`` of each control once, before anything runs."""
        for control in self.declared:
            self._call(control, "configure_control", None, None, interruptible=False, configure=True)

    def cleanup(self) -> None:
        """``cleanup_control`` of each control once, after everything (even an interrupted run)."""
        for control in self.declared:
            self._call(control, "cleanup_control", None, None, interruptible=False, bare=True)

    def apply(
        self,
        level: str,
        scope: str,
        context: Any,
        state: Any = None,
        own: Sequence[Control] = (),
        interruptible: bool = True,
    ) -> None:
        """Call ``{scope}_{level}_control`` of every control that applies; may raise ControlInterrupt."""
        for control in applicable(level, self.top, own):
            if control.scope is None or control.scope == scope:
                self._call(control, f"{scope}_{level}_control", context, state, interruptible)

    def around_activity(
        self, activity: Activity, interruptible: bool = True
    ) -> AbstractContextManager[_State]:
        """``around`` at the activity level, with the activity's own controls."""
        return self.around("activity", activity_context(activity), activity.controls, interruptible)

    def activity_hook(self, scope: str, activity: Activity, state: Any = None) -> None:
        """``apply`` at the activity level (a background activity's hooks run apart)."""
        self.apply("activity", scope, activity_context(activity), state, activity.controls)

    @contextmanager
    def around(
        self, level: str, context: Any, own: Sequence[Control] = (), interruptible: bool = True
    ) -> Iterator[_State]:
        """Before hooks, the block, then after hooks with the state it set, even when it failed."""
        state = _State()
        if not self.declared:
            yield state
            return
        try:
            self.apply(level, "before", context, None, own, interruptible)
            yield state
        except BaseException:
            # already leaving with an error: the after hooks run, but cannot replace it
            self.apply(level, "after", context, state.value, own, interruptible=False)
            raise
        self.apply(level, "after", context, state.value, own, interruptible)

    # one call -------------------------------------------------------------------------------------

    def _hook(self, control: Control, name: str) -> Callable[..., Any] | None:
        module = self._modules.get(control.provider.module, False)
        if module is False:
            try:
                module = import_module(control)
            except Exception as exc:  # checked on load; a module may still fail here, logged once
                log.warning("control %s: cannot import %s: %s", control.name, control.provider.module, exc)
                module = None
            self._modules[control.provider.module] = module
        func = getattr(module, name, None) if isinstance(module, ModuleType) else None
        return func if callable(func) else None

    def _arguments(self, func: Callable[..., Any], control: Control, state: Any) -> dict[str, Any]:
        arguments: dict[str, Any] = copy.deepcopy(expand(control.provider.arguments))
        offered = {
            "state": state,
            "configuration": self.configuration,
            "secrets": self.secrets,
            "experiment": self.doc,
            "settings": None,  # controls declared in chaostoolkit's settings file are not loaded
            "extensions": self.doc.get("extensions"),
        }
        try:
            parameters = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return arguments
        arguments.update({k: offered[k] for k in _OPTIONAL if k in parameters})
        return arguments

    def _call(
        self,
        control: Control,
        name: str,
        context: Any,
        state: Any,
        interruptible: bool,
        configure: bool = False,
        bare: bool = False,
    ) -> None:
        func = self._hook(control, name)
        if func is None:
            return
        entry: dict[str, Any] = {"control": control.name, "hook": name, "start": clock.iso(clock.now())}
        if isinstance(context, Mapping) and context.get("name"):
            entry["context"] = str(context["name"])
        try:
            if bare:
                func()
            else:
                arguments = self._arguments(func, control, state)
                if configure:
                    arguments.pop("state", None)
                    func(**arguments)
                else:
                    func(context=context, **arguments)
        except Exception as exc:  # a control must never take the run (and its restore) down
            message = hide(str(exc) or type(exc).__name__)
            if _interrupts(exc):
                entry.update(status="interrupted", error=message)
                self._record(entry)
                log.warning("control %s: %s interrupted the run: %s", control.name, name, message)
                if interruptible:
                    raise ControlInterrupt(control.name, name, message) from None
                return
            entry.update(status="failed", error=hide(repr(exc)))
            self._record(entry)
            log.warning("control %s: %s failed: %s", control.name, name, message)
            return
        entry["status"] = "succeeded"
        self._record(entry)

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.entries.append(entry)


__all__ = [
    "HOOKS",
    "LEVELS",
    "ControlHooks",
    "ControlInterrupt",
    "activity_context",
    "all_controls",
    "applicable",
    "check_controls",
    "entries",
    "unique",
]
