"""`${VAR}` interpolation as in Docker Compose: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seawall.config.yamlfile import KeyPath

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A variable is unset and has no default; ``path`` says where it was used."""

    def __init__(self, name: str, path: KeyPath, message: str | None = None) -> None:
        self.name = name
        self.path = path
        super().__init__(message or f"environment variable {name} is not set (and has no default)")


def interpolate_text(text: str, env: Mapping[str, str], path: KeyPath = ()) -> str:
    """Substitute variables in one string."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?"):
            if value is None or (op == ":?" and not value):
                raise MissingVariable(name, path, f"environment variable {name} is required: {arg}")
            return value
        if value is None:
            raise MissingVariable(name, path)
        return value

    return _PATTERN.sub(replace, text)


def interpolate(data: Any, env: Mapping[str, str], path: KeyPath = ()) -> Any:
    """Substitute variables in every string value of a parsed YAML tree (keys are left alone)."""
    if isinstance(data, str):
        return interpolate_text(data, env, path)
    if isinstance(data, dict):
        return {k: interpolate(v, env, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate(v, env, (*path, i)) for i, v in enumerate(data)]
    return data
