"""Chaos Toolkit experiments: detect them, and convert them to Seawall's format (``chaos import``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seawall.errors import UsageError

_PROVIDER_KEYS = {
    "process": ("type", "path", "arguments", "timeout"),
    "http": ("type", "url", "method", "headers", "arguments", "timeout", "expected_status"),
    "python": ("type", "module", "func", "arguments"),
}
# Chaos Toolkit checks the hypothesis before and after the method by default; "continuously" and
# "during-method-only" also check while the method runs, which is our strict mode.
_STRATEGIES = {
    "default": "after",
    "before-method-only": "after",
    "after-method-only": "after",
    "during-method-only": "strict",
    "continuously": "strict",
}


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


def _provider(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = data.get("type")
    if kind not in _PROVIDER_KEYS:
        raise UsageError(f"{where}: provider type {kind!r} is not supported (process, http, python)")
    out = {k: data[k] for k in _PROVIDER_KEYS[kind] if k in data}
    if kind == "process" and isinstance(out.get("arguments"), list | str | dict):
        pass  # same forms in both formats
    return out


def _activity(data: object, named: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, Any]:
    if isinstance(data, str):  # a reference to an activity defined elsewhere by name
        if data not in named:
            raise UsageError(f"{where}: reference to unknown activity {data!r}")
        data = named[data]
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: an activity must be an object")
    if "provider" not in data:
        raise UsageError(f"{where}: activity {data.get('name', '?')!r} has no provider")
    out: dict[str, Any] = {
        "name": str(data.get("name", "")),
        "type": "action" if data.get("type") == "action" else "probe",
        "provider": _provider(data["provider"], f"{where} ({data.get('name', '?')})"),
    }
    if "tolerance" in data:
        out["tolerance"] = data["tolerance"]
    if data.get("background"):
        out["background"] = True
    pauses = data.get("pauses")
    if isinstance(pauses, Mapping):
        out["pauses"] = {k: pauses[k] for k in ("before", "after") if k in pauses}
    return out


def _named(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    hypothesis = doc.get("steady-state-hypothesis") or {}
    for item in [*hypothesis.get("probes", []), *doc.get("method", []), *doc.get("rollbacks", [])]:
        if isinstance(item, Mapping) and "name" in item and "provider" in item:
            found.setdefault(str(item["name"]), item)
    return found


def import_chaostoolkit(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A Chaos Toolkit experiment as a Seawall experiment document (validate with Experiment)."""
    named = _named(doc)
    hypothesis = doc.get("steady-state-hypothesis") or {}
    runtime = doc.get("runtime") or {}
    strategy = str((runtime.get("hypothesis") or {}).get("strategy", "default"))
    if strategy not in _STRATEGIES:
        raise UsageError(f"runtime.hypothesis.strategy {strategy!r} is not supported")
    out: dict[str, Any] = {
        "version": "1",
        "title": str(doc.get("title", "untitled")),
        "description": str(doc.get("description", "")),
        "tags": list(doc.get("tags", [])),
        "steady_state": {
            "title": str(hypothesis.get("title", "steady state")),
            "probes": [
                _activity(p, named, f"steady-state-hypothesis.probes[{i}]")
                for i, p in enumerate(hypothesis.get("probes", []))
            ],
        },
        "method": [_activity(a, named, f"method[{i}]") for i, a in enumerate(doc.get("method", []))],
        "rollbacks": [_activity(a, named, f"rollbacks[{i}]") for i, a in enumerate(doc.get("rollbacks", []))],
        "runtime": {"hypothesis": _STRATEGIES[strategy]},
    }
    if not out["method"]:
        raise UsageError("the experiment's method is empty")
    return out


__all__ = ["import_chaostoolkit", "is_chaostoolkit"]
