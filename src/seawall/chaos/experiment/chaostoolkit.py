"""Chaos Toolkit experiments: detect them, and convert them to Seawall's format (``chaos import``).

Nothing is dropped silently: what changes how the experiment runs and cannot be converted is an
error (exit 2), and what is only metadata or a setting Seawall does not need is a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.experiment.ctk_config import resolve, substitute
from seawall.chaos.experiment.ctk_controls import any_controls, control_inputs, convert_controls, top_controls
from seawall.config.units import parse_duration
from seawall.errors import UsageError

_PROVIDER_KEYS = {
    "process": ("type", "path", "arguments", "timeout"),
    "http": ("type", "url", "method", "headers", "arguments", "timeout", "expected_status"),
    "python": ("type", "module", "func", "arguments"),
}
_ACTIVITY_KEYS = {"type", "name", "provider", "tolerance", "background", "pauses", "controls", "ref"}
_TOP_KEYS = {
    "version", "title", "description", "tags", "configuration", "secrets", "controls",
    "steady-state-hypothesis", "method", "rollbacks", "runtime", "extensions", "contributions",
}  # fmt: skip
# Chaos Toolkit checks the hypothesis before and after the method by default; "continuously" and
# "during-method-only" also check while the method runs, which is our strict mode.
_STRATEGIES = {
    "default": "after",
    "before-method-only": "after",
    "after-method-only": "after",
    "during-method-only": "strict",
    "continuously": "strict",
}
_ROLLBACKS = ("default", "always")  # Seawall always runs rollbacks, even after an interruption


@dataclass
class Conversion:
    """A converted document and what the conversion could not keep as it was."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def is_chaostoolkit(doc: Mapping[str, Any]) -> bool:
    """Whether a loaded document is a Chaos Toolkit experiment rather than Seawall's format."""
    if "steady-state-hypothesis" in doc:
        return True
    if "steady_state" in doc or "targets" in doc:
        return False
    method = doc.get("method")
    return isinstance(method, list) and any(
        isinstance(m, Mapping) and "provider" in m and "type" in m for m in method
    )


class _Converter:
    def __init__(
        self, subs: Mapping[str, str], notes: list[str], controls: Mapping[str, Mapping[str, Any]]
    ) -> None:
        self.subs = subs
        self.notes = notes
        self.top = controls  # the experiment's controls by name, for {ref: name}

    def controls(self, data: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        return convert_controls(data, self.top, self.subs, self.notes, where)

    def provider(self, data: object, where: str, tolerance: bool = False) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise UsageError(f"{where}: a provider must be an object")
        kind = data.get("type")
        if kind not in _PROVIDER_KEYS:
            raise UsageError(f"{where}: provider type {kind!r} is not supported (process, http, python)")
        extra = sorted(set(data) - set(_PROVIDER_KEYS[kind]))
        if "secrets" in extra:
            self.notes.append(
                f"{where}: provider `secrets` is not passed to functions; ${{name}} placeholders still work"
            )
            extra.remove("secrets")
        if extra:
            self.notes.append(f"{where}: provider keys not converted: {', '.join(extra)}")
        kept = {k: data[k] for k in _PROVIDER_KEYS[kind] if k in data}
        out = {k: v if k == "type" else substitute(v, self.subs) for k, v in kept.items()}
        # a tolerance probe's mapping is kept: its `value` joins it when it runs (tolerance.py)
        return _as_chaostoolkit_runs(out) if kind == "process" and not tolerance else out

    def tolerance(self, data: object, where: str) -> object:
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        if data.get("type") == "probe":
            out["provider"] = self.provider(data.get("provider"), f"{where} tolerance probe", tolerance=True)
            if data.get("controls"):
                # chaostoolkit-lib runs a tolerance probe outside its activity controls too
                self.notes.append(f"{where} tolerance probe: controls are not called on a tolerance probe")
                out.pop("controls")
        for key in ("pattern", "path"):
            if isinstance(out.get(key), str):
                out[key] = substitute(out[key], self.subs)
        return out

    def activity(self, data: object, named: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, Any]:
        if isinstance(data, Mapping) and set(data) == {"ref"}:
            data = str(data["ref"])
        if isinstance(data, str):  # a reference to an activity defined elsewhere by name
            if data not in named:
                raise UsageError(f"{where}: reference to unknown activity {data!r}")
            data = named[data]
        if not isinstance(data, Mapping):
            raise UsageError(f"{where}: an activity must be an object")
        label = f"{where} ({data.get('name', '?')})"
        if "provider" not in data:
            raise UsageError(f"{where}: activity {data.get('name', '?')!r} has no provider")
        extra = sorted(set(data) - _ACTIVITY_KEYS)
        if extra:
            self.notes.append(f"{label}: keys not converted: {', '.join(extra)}")
        out: dict[str, Any] = {
            "name": str(data.get("name", "")),
            "type": "action" if data.get("type") == "action" else "probe",
            "provider": self.provider(data["provider"], label),
        }
        if "tolerance" in data:
            out["tolerance"] = self.tolerance(data["tolerance"], label)
        controls = self.controls(data, label)
        if controls:
            out["controls"] = controls
        if data.get("background"):
            out["background"] = True
        pauses = data.get("pauses")
        if isinstance(pauses, Mapping):
            out["pauses"] = {k: pauses[k] for k in ("before", "after") if k in pauses}
        return out


def _as_chaostoolkit_runs(provider: dict[str, Any]) -> dict[str, Any]:
    """Process arguments in the argv chaostoolkit-lib builds: a string runs through the shell after
    the path; a mapping gives its keys and values in order, empty ones left out."""
    arguments = provider.get("arguments")
    if isinstance(arguments, str):
        return {**provider, "path": "sh", "arguments": ["-c", f"{provider.get('path', '')} {arguments}"]}
    if isinstance(arguments, Mapping):
        return {**provider, "arguments": ctk_argv(arguments)}
    return provider


def ctk_argv(arguments: Mapping[str, Any]) -> list[str]:
    """A process's mapping of arguments as chaostoolkit-lib passes it: key, value, ... minus empty ones."""
    return [str(p) for pair in arguments.items() for p in pair if p not in (None, "")]


def _named(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    hypothesis = doc.get("steady-state-hypothesis") or {}
    for item in [*hypothesis.get("probes", []), *doc.get("method", []), *doc.get("rollbacks", [])]:
        if isinstance(item, Mapping) and "name" in item and "provider" in item:
            found.setdefault(str(item["name"]), item)
    return found


def _runtime(doc: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    runtime = doc.get("runtime") or {}
    hypothesis = runtime.get("hypothesis") or {}
    strategy = str(hypothesis.get("strategy", "default"))
    if strategy not in _STRATEGIES:
        raise UsageError(f"runtime.hypothesis.strategy {strategy!r} is not supported")
    out: dict[str, Any] = {"hypothesis": _STRATEGIES[strategy]}
    if "freq" in hypothesis:
        try:
            out["probe_interval"] = parse_duration(hypothesis["freq"])
        except ValueError as exc:
            raise UsageError(f"runtime.hypothesis.freq: {exc}") from exc
    for key in sorted(set(hypothesis) - {"strategy", "freq"}):
        notes.append(f"runtime.hypothesis.{key} is not converted")
    rollbacks = str((runtime.get("rollbacks") or {}).get("strategy", "default"))
    if rollbacks not in _ROLLBACKS:
        raise UsageError(
            f"runtime.rollbacks.strategy {rollbacks!r} is not supported: Seawall always runs rollbacks"
        )
    for key in sorted(set(runtime) - {"hypothesis", "rollbacks"}):
        notes.append(f"runtime.{key} is not converted")
    return out


def convert_chaostoolkit(doc: Mapping[str, Any], *, running: bool = False) -> Conversion:
    """A Chaos Toolkit experiment as a Seawall document, and notes on what was not kept.

    ``running``: it is about to run in this process (see ``ctk_config.resolve``).
    """
    notes: list[str] = []
    hypothesis = doc.get("steady-state-hypothesis") or {}
    unknown = sorted(set(hypothesis) - {"title", "probes", "controls"})
    if unknown:
        notes.append(f"steady-state-hypothesis keys not converted: {', '.join(unknown)}")
    subs = resolve(doc, running=running)
    notes.extend(subs.notes)
    for key in ("extensions", "contributions"):
        if key in doc:
            notes.append(f"{key} are not converted (metadata for other tools)")
    extra = sorted(set(doc) - _TOP_KEYS)
    if extra:
        notes.append(f"keys not converted: {', '.join(extra)}")
    convert = _Converter(subs.values, notes, top_controls(doc))
    named = _named(doc)
    out: dict[str, Any] = {
        "version": "1",
        "title": str(doc.get("title", "untitled")),
        "description": str(doc.get("description", "")),
        "tags": list(doc.get("tags", [])),
        "steady_state": {
            "title": str(hypothesis.get("title", "steady state")),
            "probes": [
                convert.activity(p, named, f"steady-state-hypothesis.probes[{i}]")
                for i, p in enumerate(hypothesis.get("probes", []))
            ],
        },
        "method": [convert.activity(a, named, f"method[{i}]") for i, a in enumerate(doc.get("method", []))],
        "rollbacks": [
            convert.activity(a, named, f"rollbacks[{i}]") for i, a in enumerate(doc.get("rollbacks", []))
        ],
        "runtime": _runtime(doc, notes),
    }
    if not out["method"]:
        raise UsageError("the experiment's method is empty")
    hypothesis_controls = convert.controls(hypothesis, "steady-state-hypothesis")
    if hypothesis_controls:
        out["steady_state"]["controls"] = hypothesis_controls
    if any_controls(doc):
        out["controls"] = convert.controls(doc, "the experiment")
        out.update(control_inputs(doc, subs.values, running=running))
    return Conversion(out, notes)


def import_chaostoolkit(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A Chaos Toolkit experiment as a Seawall experiment document (validate with Experiment)."""
    return convert_chaostoolkit(doc).document


__all__ = ["Conversion", "convert_chaostoolkit", "ctk_argv", "import_chaostoolkit", "is_chaostoolkit"]
