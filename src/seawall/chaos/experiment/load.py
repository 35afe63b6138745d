"""Loading an experiment file (Seawall YAML, or Chaos Toolkit JSON/YAML) into a validated Experiment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from seawall.chaos.experiment.chaostoolkit import import_chaostoolkit, is_chaostoolkit
from seawall.chaos.experiment.model import Experiment
from seawall.errors import ConfigError


def read_document(path: Path) -> dict[str, Any]:
    """The file's top-level mapping (JSON or YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the experiment: {exc.strerror or exc}", file=path) from exc
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}", file=path
        ) from exc
    if not isinstance(doc, Mapping):
        raise ConfigError("an experiment must be a mapping at the top level", file=path)
    return dict(doc)


def parse_experiment(doc: Mapping[str, Any], source: Path | str | None = None) -> Experiment:
    """Validate a document; Chaos Toolkit documents are converted first."""
    data = import_chaostoolkit(doc) if is_chaostoolkit(doc) else dict(doc)
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], file=source, key=key or None) from None


def load_experiment(path: Path) -> Experiment:
    """Read and validate an experiment file."""
    return parse_experiment(read_document(path), path)


__all__ = ["load_experiment", "parse_experiment", "read_document"]
