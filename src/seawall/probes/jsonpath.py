"""The small JSON path of http probes: dotted keys and list indices, e.g. ``checks.0.status``."""

from __future__ import annotations

import json

_MISSING = object()

JsonScalar = str | int | float | bool | None


def lookup(document: object, path: str) -> object:
    """The value at ``path`` (``a.b.0.c``), or a sentinel (see ``is_missing``) when any step does not exist.

    Each dot-separated step is a key of an object, or an integer index of a list (negative
    indices count from the end). An empty path is the whole document.
    """
    value = document
    for step in path.split(".") if path else ():
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list):
            try:
                index = int(step)
            except ValueError:
                return _MISSING
            value = value[index] if -len(value) <= index < len(value) else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def is_missing(value: object) -> bool:
    """Whether ``lookup`` found nothing."""
    return value is _MISSING


def json_equal(value: object, expected: JsonScalar) -> bool:
    """Equality as JSON means it: true is not 1, but 1 equals 1.0."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(expected, int | float):
        return isinstance(value, int | float) and value == expected
    return value == expected


def check_json(document: object, path: str, expected: JsonScalar = None) -> str | None:
    """None when the document satisfies the path (and expected value); else why it does not.

    With ``expected`` None the value must exist and be truthy (not false, 0, "", [], {} or null).
    """
    value = lookup(document, path)
    if is_missing(value):
        return f"JSON has no {path!r}"
    if expected is None:
        return None if value else f"JSON {path!r} is {_show(value)}"
    if json_equal(value, expected):
        return None
    return f"JSON {path!r} is {_show(value)}, expected {_show(expected)}"


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:59] + "…"
