"""Finding, reading, interpolating and validating seawall.yaml into a StackConfig."""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from seawall.config.interpolate import MissingVariable, interpolate
from seawall.config.probes import CommandCheck
from seawall.config.stack import StackConfig
from seawall.config.yamlfile import KeyPath, format_key, line_of, read_yaml
from seawall.errors import ConfigError

CONFIG_NAMES = ("seawall.yaml", "seawall.yml")
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


def find_config(explicit: Path | None = None, cwd: Path | None = None) -> Path:
    """The config file to use: ``-f FILE`` if given, else seawall.yaml in the current directory."""
    if explicit is not None:
        if explicit.is_dir():
            return find_config(None, explicit)
        if not explicit.exists():
            raise ConfigError("file not found", file=explicit)
        return explicit
    here = cwd or Path.cwd()
    for name in CONFIG_NAMES:
        if (here / name).is_file():
            return here / name
    compose = next((here / n for n in COMPOSE_NAMES if (here / n).is_file()), None)
    hint = (
        f"create one with: seawall init --from {compose.name}"
        if compose
        else "create one with `seawall init`, or pass -f FILE"
    )
    raise ConfigError(f"no seawall.yaml in {here}", hint=hint)


def read_dotenv(directory: Path) -> dict[str, str]:
    """Variables from a .env file beside the config (empty if there is none)."""
    path = directory / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def stack_env(directory: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment used for interpolation: .env, overridden by the process environment."""
    return {**read_dotenv(directory), **(os.environ if environ is None else environ)}


def compose_fallback(path: Path | None) -> Path | None:
    """A compose file to run from when there is no seawall.yaml (``-f compose.yml`` or in the directory)."""
    if path is not None and path.is_file():
        return path if path.name in COMPOSE_NAMES else None
    here = path if path is not None and path.is_dir() else Path.cwd()
    if any((here / n).is_file() for n in CONFIG_NAMES):
        return None
    return next((here / n for n in COMPOSE_NAMES if (here / n).is_file()), None)


def _literal_environment(compose: Path) -> dict[str, str]:
    """NAME -> value of every literal `environment:` entry of a compose file's services."""
    raw, _ = read_yaml(compose)
    services = raw.get("services") if isinstance(raw, dict) else None
    out: dict[str, str] = {}
    for spec in (services or {}).values():
        env = spec.get("environment") if isinstance(spec, dict) else None
        pairs = env.items() if isinstance(env, dict) else (str(e).partition("=")[::2] for e in env or [])
        for name, value in pairs:
            if value is not None and "$" not in str(value):
                out.setdefault(str(name), str(value))
    return out


def load_stack(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> StackConfig:
    """Load and validate a stack file; every problem becomes one ConfigError (exit 2).

    Without a seawall.yaml, a compose file alone is a stack too (``runtime: compose``): its
    services, ports, healthchecks and datastores are imported as `seawall init --from` would.
    """
    compose = compose_fallback(path)
    if compose is not None:
        from seawall.config.compose_import import import_compose

        file = compose.resolve()
        # nothing is written to disk here, so the secrets the import turned into ${VAR}
        # references may take the compose file's own literal values (lowest precedence)
        env = {**_literal_environment(file), **stack_env(file.parent, environ)}
        return _finish(import_compose(file).data, file, {}, env)
    file = find_config(path).resolve()
    raw, lines = read_yaml(file)
    if raw is None:
        raise ConfigError("the file is empty", file=file, hint="it needs at least `stack: NAME`")
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping (key: value)", file=file, line=1)
    return _finish(raw, file, lines, environ)


def _finish(
    raw: dict[str, Any], file: Path, lines: dict[KeyPath, int], environ: Mapping[str, str] | None
) -> StackConfig:
    """Interpolate, validate, anchor relative paths and bind the stack to its directory."""
    env = stack_env(file.parent, environ)
    try:
        data = interpolate(raw, env)
    except MissingVariable as exc:
        raise ConfigError(
            str(exc),
            file=file,
            line=line_of(lines, exc.path),
            key=format_key(exc.path),
            hint=f"set {exc.name} in the environment or in {file.parent / '.env'}",
        ) from None
    return _anchor_commands(validate(data, file, lines), file.parent).bind(file.parent, file)


def _anchor_commands(stack: StackConfig, root: Path) -> StackConfig:
    """Resolve command probes' working directories against the stack directory, not the caller's cwd."""

    def anchored(check: CommandCheck) -> CommandCheck:
        return check.model_copy(update={"cwd": str((root / (check.cwd or ".")).resolve())})

    components = {}
    for name, comp in stack.components.items():
        roles = {
            role: spec.model_copy(update={"command": anchored(spec.command)})
            for role, spec in comp.probes.items()
            if spec.command is not None
        }
        cwd = str((root / (comp.cwd or ".")).resolve())
        probes = comp.probes.model_copy(update=roles) if roles else comp.probes
        components[name] = comp.model_copy(update={"probes": probes, "cwd": cwd})
    smoke = [
        c.model_copy(update={"command": anchored(c.command)}) if c.command is not None else c
        for c in stack.smoke
    ]
    return stack.model_copy(update={"components": components, "smoke": smoke})


def validate(data: Any, file: Path | str, lines: dict[KeyPath, int]) -> StackConfig:
    """Validate parsed data into a StackConfig; the first error is reported with file:line: key."""
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = _clean_loc(first["loc"])
        message, hint = _describe(first, loc)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise ConfigError(
            message, file=file, line=line_of(lines, loc), key=format_key(loc) or None, hint=hint
        ) from None


def _clean_loc(loc: tuple[int | str, ...]) -> KeyPath:
    # pydantic adds validator names such as "function-before[...]" to some locations
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function"))))


def _describe(error: ErrorDetails, loc: KeyPath) -> tuple[str, str | None]:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = allowed_keys(StackConfig, loc[:-1])
        key = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else None
        if not hint and allowed:
            hint = "allowed keys: " + ", ".join(sorted(allowed))
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return "required key is missing", None
    message = error["msg"].removeprefix("Value error, ")
    return message, None


def allowed_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys a mapping at ``loc`` may hold, found by walking the model's field types."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    models = [m for m in _flatten(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    return sorted({name for m in models for name in m.model_fields})


def _flatten(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return [x for arg in typing.get_args(tp) for x in _flatten(arg)]
    if origin is typing.Annotated:
        return _flatten(typing.get_args(tp)[0])
    return [tp]


def _step(tp: Any, part: str | int) -> Any:
    for candidate in _flatten(tp):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            field = candidate.model_fields.get(str(part))
            if field is not None:
                return field.annotation
        origin = typing.get_origin(candidate)
        if origin is dict:
            return typing.get_args(candidate)[1]
        if origin is list and isinstance(part, int):
            return typing.get_args(candidate)[0]
    return None
