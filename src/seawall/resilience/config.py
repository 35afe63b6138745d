"""Policies declared per dependency by name, from a dict or a YAML file (resilience4j's model)."""

from __future__ import annotations

import builtins
import importlib
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import errors
from .backoff import Backoff
from .breaker import Breaker
from .budget import RetryBudget
from .bulkhead import AsyncBulkhead, Bulkhead
from .errors import PolicyConfigError
from .pipeline import AsyncPipeline, Pipeline
from .registry import Registry, default_registry
from .retry import AsyncRetry, Retry
from .timeout import AsyncTimeout, Timeout

__all__ = ["Policies", "load_policies"]

_POLICIES = ("attempt_timeout", "breaker", "bulkhead", "on_open", "retry", "timeout")
_KEYS: dict[str, tuple[str, ...]] = {
    "retry": ("attempts", "backoff", "budget", "on", "timeout"),
    "backoff": ("initial", "jitter", "maximum", "multiplier"),
    "budget": ("capacity", "per_success", "refill_per_second"),
    "breaker": (
        "buckets",
        "failure_on",
        "failure_rate",
        "half_open_calls",
        "ignore_on",
        "max_half_open",
        "max_retry_after",
        "min_calls",
        "open_for",
        "slow_call",
        "slow_rate",
        "window",
        "window_type",
    ),
    "bulkhead": ("max_concurrent", "max_queue", "queue_timeout"),
    "timeout": ("mode", "seconds"),
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SECONDS_KEYS = {
    "timeout",
    "seconds",
    "open_for",
    "max_half_open",
    "max_retry_after",
    "slow_call",
    "queue_timeout",
    "initial",
    "maximum",
}


def _duration(where: str, value: object) -> object:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise PolicyConfigError(f"{where}: {value!r} is not a duration like 500ms, 2s, 1m")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


def _exception_class(where: str, name: object) -> type[BaseException]:
    if not isinstance(name, str):
        raise PolicyConfigError(f"{where}: exception names are strings, got {name!r}")
    found: object = getattr(builtins, name, None) or getattr(errors, name, None)
    if found is None and "." in name:
        module, _, attr = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), attr, None)
        except ImportError as exc:
            raise PolicyConfigError(f"{where}: cannot import {module!r} for {name!r}") from exc
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise PolicyConfigError(f"{where}: {name!r} is not a known exception class")
    return found


def _exceptions(where: str, value: object) -> tuple[type[BaseException], ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise PolicyConfigError(f"{where}: give one exception name or a non-empty list of them")
    return tuple(_exception_class(where, n) for n in names)


def _section(where: str, kind: str, value: object) -> dict[str, Any]:
    if kind == "timeout" and not isinstance(value, Mapping):
        value = {"seconds": value}
    if not isinstance(value, Mapping):
        raise PolicyConfigError(f"{where}: expected a mapping, got {value!r}")
    known = _KEYS[kind]
    out: dict[str, Any] = {}
    for raw_key, item in value.items():
        # YAML 1.1 reads a bare `on:` key as the boolean True.
        key = "on" if raw_key is True and "on" in known else raw_key
        if key not in known:
            raise PolicyConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
        here = f"{where}.{key}"
        if key in ("on", "failure_on", "ignore_on"):
            out[key] = _exceptions(here, item)
        elif key in ("backoff", "budget"):
            out[key] = _section(here, key, item)
        elif key in _SECONDS_KEYS:
            out[key] = _duration(here, item)
        else:
            out[key] = item
    return out


def _merge(defaults: Mapping[str, Any], instance: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in instance.items():
        base = merged.get(key)
        both_maps = isinstance(base, Mapping) and isinstance(value, Mapping)
        merged[key] = _merge(base, value) if both_maps else value  # type: ignore[arg-type]
    return merged


class Policies:
    """The named instances of a resilience config, built on first use and shared after.

    Breakers are registered in ``registry`` (so chaos hooks and metrics find them) and
    shared by the sync and async pipelines of an instance.
    """

    def __init__(self, instances: Mapping[str, Mapping[str, Any]], registry: Registry) -> None:
        self._specs = {name: dict(spec) for name, spec in instances.items()}
        self.registry = registry
        self._built: dict[tuple[str, bool], Pipeline | AsyncPipeline] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def _spec(self, name: str) -> dict[str, Any]:
        spec = self._specs.get(name)
        if spec is None:
            raise PolicyConfigError(
                f"no resilience instance named {name!r} (known: {', '.join(self.names) or 'none'})"
            )
        return spec

    def breaker(self, name: str) -> Breaker | None:
        """The instance's breaker, or None if it declares none."""
        settings = self._spec(name).get("breaker")
        if settings is None:
            return None
        return self.registry.breaker(name, **settings)

    def _build(self, name: str, is_async: bool) -> Pipeline | AsyncPipeline:
        spec = self._spec(name)
        reg = self.registry
        retry = bulkhead = timeout = attempt_timeout = None
        if "retry" in spec:
            settings = dict(spec["retry"])
            if "backoff" in settings:
                settings["backoff"] = Backoff(**settings["backoff"])
            if "budget" in settings:
                settings["budget"] = RetryBudget(**settings["budget"])
            if "on" not in settings:
                raise PolicyConfigError(f"instances.{name}.retry: 'on' is required")
            retry = reg.add((AsyncRetry if is_async else Retry)(name=name, **settings))
        if "bulkhead" in spec:
            cls: Callable[..., Any] = AsyncBulkhead if is_async else Bulkhead
            bulkhead = reg.add(cls(name=name, **spec["bulkhead"]))
        time_cls: Callable[..., Any] = AsyncTimeout if is_async else Timeout
        for key, label in (("timeout", name), ("attempt_timeout", f"{name}.attempt")):
            if key in spec:
                settings = dict(spec[key])
                if is_async:
                    settings.pop("mode", None)  # coroutines are always cancelled
                made = reg.add(time_cls(name=label, **settings))
                if key == "timeout":
                    timeout = made
                else:
                    attempt_timeout = made
        pipe_cls: Callable[..., Any] = AsyncPipeline if is_async else Pipeline
        return pipe_cls(  # type: ignore[no-any-return]
            name=name,
            timeout=timeout,
            bulkhead=bulkhead,
            retry=retry,
            breaker=self.breaker(name),
            attempt_timeout=attempt_timeout,
            on_open=spec.get("on_open", "raise"),
        )

    def _pipeline(self, name: str, is_async: bool) -> Pipeline | AsyncPipeline:
        with self._lock:
            key = (name, is_async)
            if key not in self._built:
                try:
                    self._built[key] = self._build(name, is_async)
                except PolicyConfigError as exc:
                    raise PolicyConfigError(f"instances.{name}: {exc}") from None
            return self._built[key]

    def pipeline(self, name: str) -> Pipeline:
        """The sync pipeline declared for dependency ``name``."""
        return self._pipeline(name, False)  # type: ignore[return-value]

    def async_pipeline(self, name: str) -> AsyncPipeline:
        """The async pipeline declared for dependency ``name``."""
        return self._pipeline(name, True)  # type: ignore[return-value]


def load_policies(source: Mapping[str, Any] | str | Path, *, registry: Registry | None = None) -> Policies:
    """Read ``{defaults: {...}, instances: {name: {retry, breaker, ...}}}``.

    ``source`` is a mapping or the path of a YAML file (PyYAML is imported only then); a
    top-level ``resilience:`` key (a whole seawall.yaml) is unwrapped. Every setting is
    checked here, so a typo fails at startup with its dotted path, not at the first call.
    """
    if isinstance(source, str | Path):
        import yaml

        with open(source, encoding="utf-8") as handle:
            source = yaml.safe_load(handle) or {}
    if not isinstance(source, Mapping):
        raise PolicyConfigError("a resilience config must be a mapping")
    if "resilience" in source:
        source = source["resilience"] or {}
    unknown = set(source) - {"defaults", "instances"}
    if unknown:
        raise PolicyConfigError(f"resilience config: unknown key(s) {sorted(unknown)}")
    defaults = source.get("defaults") or {}
    raw = source.get("instances") or {}
    if not isinstance(raw, Mapping) or not isinstance(defaults, Mapping):
        raise PolicyConfigError("resilience config: defaults and instances must be mappings")
    instances: dict[str, dict[str, Any]] = {}
    for name, body in raw.items():
        where = f"instances.{name}"
        if not isinstance(body, Mapping):
            raise PolicyConfigError(f"{where}: expected a mapping of policies")
        spec: dict[str, Any] = {}
        for kind, value in _merge(defaults, body).items():
            if kind not in _POLICIES:
                raise PolicyConfigError(f"{where}: unknown policy {kind!r} (known: {', '.join(_POLICIES)})")
            if kind == "on_open":
                spec[kind] = value
            else:
                section = "timeout" if kind == "attempt_timeout" else kind
                spec[kind] = _section(f"{where}.{kind}", section, value)
        instances[str(name)] = spec
    policies = Policies(instances, registry if registry is not None else default_registry)
    trial = Policies(instances, Registry())
    for name in policies.names:  # build once, aside, so bad values fail at load time
        try:
            trial._build(name, False)
        except PolicyConfigError as exc:
            raise PolicyConfigError(f"instances.{name}: {exc}") from None
        except TypeError as exc:
            raise PolicyConfigError(f"instances.{name}: {exc}") from None
    return policies
