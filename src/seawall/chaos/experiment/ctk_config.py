"""Chaos Toolkit ``configuration`` and ``secrets``: resolved as chaostoolkit-lib does, into placeholders.

A literal configuration value is written in place; an ``{type: env, key: VAR, default: ...}``
entry becomes ``${VAR}`` (``${VAR:-default}``), expanded from the environment when the activity
runs. A secret is never written anywhere: an env secret becomes ``${VAR}``, an inline one
``${key}``, whose value only the running process knows (``placeholders.register_secret``).
``${name}`` and ``$name`` in providers and tolerances are then rewritten the way
``chaoslib.substitute`` reads them: configuration first, then the secrets of every scope.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seawall.chaos.experiment.placeholders import register_secret
from seawall.errors import UsageError

# string.Template's syntax, which chaoslib.substitute uses: $$, ${name}, $name
_TEMPLATE = re.compile(
    r"\$(?:(?P<dollar>\$)(?P<brace>(?=\{))?|\{(?P<braced>[_a-zA-Z]\w*)\}|(?P<named>[_a-zA-Z]\w*))"
)
_ENV_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass
class Substitutions:
    """What each ``${name}`` of the experiment becomes, and what the conversion could not keep."""

    values: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _literal(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text.replace("${", "$${")  # a literal stays literal when placeholders are expanded


def _env_placeholder(entry: Mapping[str, Any], what: str, check_env: bool, secret: bool) -> str:
    key = entry.get("key")
    if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
        raise UsageError(f"{what}: an env entry needs `key`, the name of an environment variable")
    default = entry.get("default")
    if default is not None and secret:
        raise UsageError(f"{what}: Chaos Toolkit secrets take no default")
    if check_env and key not in os.environ and default is None:
        raise UsageError(
            f"{what} reads the environment variable {key}, which is not set (and has no default)"
        )
    if secret and key in os.environ:
        register_secret(os.environ[key])
    if default is None:
        return f"${{{key}}}"
    text = str(default)
    if "}" in text:
        raise UsageError(f"{what}: a default holding '}}' cannot be kept")
    return f"${{{key}:-{text}}}"


def _configuration(raw: object, subs: Substitutions, check_env: bool) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        raise UsageError("configuration must be a mapping of names to values")
    for name, value in raw.items():
        what = f"configuration {name!r}"
        if isinstance(value, Mapping) and "type" in value:
            kind = value["type"]
            if kind == "env":
                subs.values[str(name)] = _env_placeholder(value, what, check_env, secret=False)
                if "env_var_type" in value:
                    subs.notes.append(f"{what}: env_var_type is not kept (values are substituted as text)")
                continue
            if kind == "probe":
                raise UsageError(f"{what}: dynamic configuration (a probe) is not supported")
            raise UsageError(f"{what}: configuration of type {kind!r} is not supported (literal or env)")
        subs.values[str(name)] = _literal(value)


def _secrets(raw: object, subs: Substitutions, check_env: bool, keep_inline: bool) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise UsageError("secrets must map scopes to mappings of names to values")
    found: dict[str, str] = {}
    for scope, keys in raw.items():
        for name, value in keys.items():
            what = f"secret {scope}.{name}"
            if isinstance(value, Mapping) and value.get("type") == "env":
                found.setdefault(str(name), _env_placeholder(value, what, check_env, secret=True))
                continue
            if isinstance(value, Mapping) and value.get("type") is not None:
                raise UsageError(
                    f"{what}: secrets of type {value['type']!r} are not supported (inline or env)"
                )
            if not _ENV_NAME.fullmatch(str(name)):
                raise UsageError(f"{what}: the name cannot be a placeholder")
            found.setdefault(str(name), f"${{{name}}}")
            if keep_inline:
                register_secret(str(value), str(name))
            else:
                subs.notes.append(
                    f"{what} is written in the experiment: not copied; set the environment variable "
                    f"{name} before running"
                )
    for name, text in found.items():
        subs.values.setdefault(name, text)  # configuration wins, as in chaoslib's ChainMap


def resolve(doc: Mapping[str, Any], *, running: bool) -> Substitutions:
    """The substitutions of a Chaos Toolkit document.

    ``running``: the experiment is about to run in this process, so a missing environment variable
    is an error now and inline secrets are registered; otherwise (``chaos import``) they are noted.
    """
    subs = Substitutions()
    _configuration(doc.get("configuration"), subs, running)
    _secrets(doc.get("secrets"), subs, running, running)
    return subs


def substitute(value: Any, subs: Mapping[str, str]) -> Any:
    """``value`` with chaoslib's ``${name}`` / ``$name`` rewritten; unknown names stay literal text."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            if match["dollar"]:
                return "$$" if match["brace"] is not None else "$"  # "$${" stays a literal "${"
            name = match["braced"] or match["named"]
            if name in subs:
                return subs[name]
            return f"$${{{name}}}" if match["braced"] else match[0]

        return _TEMPLATE.sub(one, value)
    if isinstance(value, Mapping):
        return {key: substitute(item, subs) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(item, subs) for item in value]
    return value


__all__ = ["Substitutions", "resolve", "substitute"]
