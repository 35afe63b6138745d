"""Chaos Toolkit controls on import: python controls kept (refs resolved, ``${name}`` substituted).

The configuration and secrets they receive are written as placeholders (``ctk_config``): a literal
value in place, an env entry or a secret as ``${VAR}``, resolved only when the control runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seawall.chaos.experiment.ctk_config import resolve, substitute
from seawall.errors import UsageError

_CONTROL_KEYS = {"name", "provider", "scope", "automatic", "ref"}
_PROVIDER_KEYS = {"type", "module", "arguments"}


def _listed(data: Mapping[str, Any], where: str) -> list[object]:
    controls = data.get("controls")
    if not controls:
        return []
    if not isinstance(controls, list):
        raise UsageError(f"{where}: controls must be a list")
    return controls


def top_controls(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The experiment-level controls by name: what ``{ref: name}`` at a lower level points at."""
    listed = _listed(doc, "the experiment")
    return {str(c["name"]): c for c in listed if isinstance(c, Mapping) and "name" in c}


def _control(
    raw: object, top: Mapping[str, Mapping[str, Any]], subs: Mapping[str, str], notes: list[str], where: str
) -> dict[str, Any]:
    if isinstance(raw, Mapping) and "ref" in raw:
        if raw["ref"] not in top:
            raise UsageError(f"{where}: reference to unknown control {raw['ref']!r}")
        raw = top[raw["ref"]]
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise UsageError(f"{where}: a control must be an object with a name")
    label = f"{where} ({raw['name']})"
    provider = raw.get("provider")
    if not isinstance(provider, Mapping) or provider.get("type") != "python":
        kind = provider.get("type") if isinstance(provider, Mapping) else None
        raise UsageError(f"{label}: control provider type {kind!r} is not supported (python)")
    if not isinstance(provider.get("module"), str) or not provider["module"]:
        raise UsageError(f"{label}: a python control needs `module`")
    if raw.get("scope") not in (None, "before", "after"):
        raise UsageError(f"{label}: scope must be before or after, not {raw['scope']!r}")
    arguments = provider.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        raise UsageError(f"{label}: control arguments must be a mapping")
    extra = sorted({*(set(raw) - _CONTROL_KEYS), *(f"provider.{k}" for k in set(provider) - _PROVIDER_KEYS)})
    if extra:
        notes.append(f"{label}: keys not converted: {', '.join(extra)} (hooks get every secret scope)")
    out: dict[str, Any] = {"name": str(raw["name"])}
    out["provider"] = {"type": "python", "module": provider["module"]}
    if arguments:
        out["provider"]["arguments"] = substitute(dict(arguments), subs)
    if raw.get("scope"):
        out["scope"] = raw["scope"]
    if raw.get("automatic", True) is False:
        out["automatic"] = False
    return out


def convert_controls(
    data: Mapping[str, Any],
    top: Mapping[str, Mapping[str, Any]],
    subs: Mapping[str, str],
    notes: list[str],
    where: str,
) -> list[dict[str, Any]]:
    """The controls ``data`` declares (experiment, hypothesis or activity level), in Seawall's form."""
    listed = _listed(data, where)
    return [_control(c, top, subs, notes, f"{where} controls[{i}]") for i, c in enumerate(listed)]


def control_inputs(doc: Mapping[str, Any], subs: Mapping[str, str], *, running: bool) -> dict[str, Any]:
    """``configuration`` and ``secrets`` for the controls, as placeholders (no secret value is written)."""
    out: dict[str, Any] = {}
    configuration = doc.get("configuration") or {}
    if configuration:
        # strings and env entries as resolved (literal or ${VAR}); other literals keep their type
        out["configuration"] = {
            str(name): subs[str(name)] if isinstance(value, str | Mapping) else value
            for name, value in configuration.items()
        }
    secrets = doc.get("secrets") or {}
    if secrets:
        out["secrets"] = {
            str(scope): resolve({"secrets": {scope: keys}}, running=running).values
            for scope, keys in secrets.items()
        }
    return out


def any_controls(value: object) -> bool:
    """Whether a Chaos Toolkit document (or a part of it) declares a control anywhere."""
    if isinstance(value, Mapping):
        return bool(value.get("controls")) or any(any_controls(v) for v in value.values())
    if isinstance(value, list):
        return any(any_controls(v) for v in value)
    return False


__all__ = ["any_controls", "control_inputs", "convert_controls", "top_controls"]
