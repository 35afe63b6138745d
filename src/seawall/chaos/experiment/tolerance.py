"""Tolerances as Chaos Toolkit defines them: literal, list, range, regex, jsonpath and probe.

All but ``probe`` are pure. A probe tolerance runs its provider with the probe's value as the
``value`` argument and passes when that returns something truthy without failing, as in
chaostoolkit-lib: a python function's result, an http or process provider's output (so, like
there, any exit code or HTTP status passes; a timeout or connection error fails).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from seawall.chaos.experiment.jsonpath import compile_path, find
from seawall.chaos.experiment.placeholders import expand_text

_KINDS = ("range", "regex", "jsonpath", "probe")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _status_of(value: object) -> object:
    # an http or process provider's output is a dict; literal tolerances compare its status
    if isinstance(value, Mapping) and "status" in value:
        return value["status"]
    return value


def _target(tolerance: Mapping[str, Any], value: object) -> object:
    if not isinstance(value, Mapping):
        return value
    target = tolerance.get("target")
    if target is None:
        target = "body" if "body" in value else "stdout" if "stdout" in value else None
    return value.get(target) if target is not None else value


def check_tolerance(tolerance: object) -> None:
    """ValueError when a tolerance is malformed (so `chaos validate` reports it before a run)."""
    if isinstance(tolerance, Mapping):
        kind = tolerance.get("type")
        if kind not in _KINDS:
            raise ValueError(f"unknown tolerance type {kind!r}: use one of {', '.join(_KINDS)}")
        if kind == "range":
            bounds = tolerance.get("range")
            if not (isinstance(bounds, list) and len(bounds) == 2 and all(_number(b) for b in bounds)):
                raise ValueError("a range tolerance needs 'range: [low, high]'")
        elif kind == "regex":
            re.compile(str(tolerance.get("pattern", "")))
        elif kind == "jsonpath":
            compile_path(str(tolerance.get("path", "")))
        elif kind == "probe":
            _probe_provider(tolerance, None)


def within_tolerance(tolerance: object, value: object) -> bool:
    """Whether a probe's output ``value`` satisfies ``tolerance``."""
    if isinstance(tolerance, bool):
        return _status_of(value) is tolerance or value is tolerance
    if _number(tolerance) or isinstance(tolerance, str):
        subject = _status_of(value)
        return bool(subject == tolerance and not isinstance(subject, bool))
    if isinstance(tolerance, list):
        return _status_of(value) in tolerance
    if isinstance(tolerance, Mapping):
        return _within_typed(tolerance, value)
    if tolerance is None:
        return _default(value)
    raise ValueError(f"unsupported tolerance {tolerance!r}")


def _within_typed(tolerance: Mapping[str, Any], value: object) -> bool:
    kind = tolerance.get("type")
    if kind == "range":
        low, high = tolerance["range"]
        subject = _target(tolerance, value) if "target" in tolerance else _status_of(value)
        return _number(subject) and low <= subject <= high
    if kind == "regex":
        subject = _target(tolerance, value)
        text = subject if isinstance(subject, str) else json.dumps(subject, default=str)
        return re.search(expand_text(str(tolerance.get("pattern", ""))), text) is not None
    if kind == "jsonpath":
        subject = _target(tolerance, value)
        if isinstance(subject, str | bytes):
            try:
                subject = json.loads(subject)
            except ValueError:
                return False
        values = find(subject, expand_text(str(tolerance.get("path", ""))))
        ok = bool(values)
        if "expect" in tolerance:
            expect = tolerance["expect"]
            ok = values == expect if isinstance(expect, list) else expect in values
        if "count" in tolerance:
            ok = ok and len(values) == int(tolerance["count"])
        return ok
    if kind == "probe":
        return _run_probe(tolerance, value)
    raise ValueError(f"unsupported tolerance type {kind!r}")


def _probe_provider(tolerance: Mapping[str, Any], value: object) -> Any:
    """The tolerance's provider with ``value`` among its arguments (validated: ValueError).

    A process gets them as chaostoolkit-lib passes a mapping: ``key value ... value <value>``.
    """
    from pydantic import ValidationError

    from seawall.chaos.experiment.model import Provider

    raw = tolerance.get("provider")
    if not isinstance(raw, Mapping):
        raise ValueError("a probe tolerance needs a provider")
    arguments = raw.get("arguments")
    if arguments is not None and not isinstance(arguments, Mapping):
        raise ValueError(
            "a probe tolerance's provider takes its arguments as a mapping (it is given `value`)"
        )
    given = {**(arguments or {}), "value": value}
    try:
        if raw.get("type") == "process":  # the argv chaostoolkit-lib builds: ... value <value>
            from seawall.chaos.experiment.chaostoolkit import ctk_argv

            return Provider.model_validate({**raw, "arguments": ctk_argv(given)})
        return Provider.model_validate({**raw, "arguments": given})
    except ValidationError as exc:
        raise ValueError(f"probe tolerance: {exc.errors()[0]['msg']}") from None


def _run_probe(tolerance: Mapping[str, Any], value: object) -> bool:
    from seawall.chaos.experiment.activities import run_provider

    provider = _probe_provider(tolerance, value)
    try:
        return bool(run_provider(provider))
    except Exception:  # chaostoolkit-lib: a failing tolerance probe means "not within tolerance"
        return False


def _default(value: object) -> bool:
    """No tolerance given: exit 0 for a process, 2xx/3xx for http, truthy otherwise."""
    if isinstance(value, Mapping) and "status" in value:
        status = value["status"]
        if "stdout" in value:
            return bool(status == 0)
        return _number(status) and 200 <= status < 400
    return bool(value)


__all__ = ["check_tolerance", "within_tolerance"]
