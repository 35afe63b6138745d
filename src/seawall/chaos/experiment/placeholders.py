"""``${NAME}`` placeholders in providers: expanded when an activity runs, secret values masked in output.

A placeholder reads the environment (``${NAME:-default}`` falls back to the default); ``$${`` is a
literal ``${``. Values of Chaos Toolkit secrets are registered here by the loader of the running
process: placeholders keep them out of the experiment, its journal and ``chaos import``'s output,
and ``hide`` masks them in what an activity printed or raised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

from seawall.probes.redact import MASK

PLACEHOLDER = re.compile(r"\$(?P<escaped>\$)?\{(?P<name>[A-Za-z_]\w*)(?::-(?P<default>[^}]*))?\}")

_values: dict[str, str] = {}  # inline Chaos Toolkit secrets of this process, by placeholder name
_secrets: set[str] = set()  # every secret value resolved in this process


def register_secret(value: str, name: str | None = None) -> None:
    """A secret value to mask in outputs; with ``name``, also what ``${name}`` expands to."""
    if name is not None:
        _values[name] = value
    if value:
        _secrets.add(value)


def _lookup(name: str) -> str | None:
    return _values[name] if name in _values else os.environ.get(name)


def _strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def missing(value: object, where: str = "") -> list[tuple[str, str]]:
    """``(key path, variable)`` of every placeholder that has no value and no default."""
    return [
        (path, m["name"])
        for path, text in _strings(value, where)
        for m in PLACEHOLDER.finditer(text)
        if not m["escaped"] and m["default"] is None and _lookup(m["name"]) is None
    ]


def expand_text(text: str) -> str:
    """``text`` with its placeholders replaced (an unset variable without default stays as it is)."""

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return match[0][1:]
        found = _lookup(match["name"])
        if found is None:
            return match[0] if match["default"] is None else match["default"]
        return found

    return PLACEHOLDER.sub(one, text)


def expand(value: Any) -> Any:
    """Every string inside ``value`` (lists and mappings too) expanded."""
    if isinstance(value, str):
        return expand_text(value)
    if isinstance(value, Mapping):
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [expand(item) for item in value]
    return value


def hide(value: Any) -> Any:
    """``value`` with every registered secret value replaced by ``***`` (strings, lists, mappings)."""
    if not _secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(_secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return {key: hide(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [hide(item) for item in value]
    return value


__all__ = ["PLACEHOLDER", "expand", "expand_text", "hide", "missing", "register_secret"]
