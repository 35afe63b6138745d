"""The stack model (seawall.yaml): models, loading, validation and the JSON Schema."""

from __future__ import annotations

from seawall.config.components import (
    Backoff,
    ComponentSpec,
    DatastoreSpec,
    Dependency,
    Resources,
    RestartPolicy,
)
from seawall.config.loader import find_config, load_stack, stack_env, validate
from seawall.config.probes import Probes, ProbeSpec, SmokeCheck
from seawall.config.stack import BackupSettings, Objectives, StackConfig
from seawall.config.units import format_duration, format_size, parse_duration, parse_size


def json_schema() -> dict[str, object]:
    """The JSON Schema of seawall.yaml, for editors and validators."""
    schema = StackConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "seawall.yaml"
    return schema


__all__ = [
    "Backoff",
    "BackupSettings",
    "ComponentSpec",
    "DatastoreSpec",
    "Dependency",
    "Objectives",
    "ProbeSpec",
    "Probes",
    "Resources",
    "RestartPolicy",
    "SmokeCheck",
    "StackConfig",
    "find_config",
    "format_duration",
    "format_size",
    "json_schema",
    "load_stack",
    "parse_duration",
    "parse_size",
    "stack_env",
    "validate",
]
