"""Loading an experiment file (Seawall YAML, or Chaos Toolkit JSON/YAML) into a validated Experiment."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from seawall.chaos.experiment.chaostoolkit import convert_chaostoolkit, is_chaostoolkit
from seawall.chaos.experiment.controls import check_controls
from seawall.chaos.experiment.model import Experiment
from seawall.chaos.experiment.placeholders import missing
from seawall.errors import ConfigError, UsageError

log = logging.getLogger("seawall.chaos")


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


def _providers(value: object, where: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "provider":
                yield path, item
            else:
                yield from _providers(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _providers(item, f"{where}[{index}]")


def parse_experiment(
    doc: Mapping[str, Any], source: Path | str | None = None, *, check_env: bool = True
) -> Experiment:
    """Validate a document; Chaos Toolkit documents are converted first (and their notes logged).

    A ``${VAR}`` in a provider whose variable is not set and has no default is an error here, not
    a failed activity in the middle of a run (unless ``check_env`` is off: it will run elsewhere);
    so is a control whose module does not import or defines no hook.
    """
    data = dict(doc)
    if is_chaostoolkit(doc):
        try:
            conversion = convert_chaostoolkit(doc, running=True)
        except UsageError as exc:
            raise ConfigError(exc.message, file=source, hint=exc.hint) from None
        data = conversion.document
        for note in conversion.notes:
            log.warning("%s: %s", source or "experiment", note)
    given = [*_providers(data), *((k, data[k]) for k in ("configuration", "secrets") if k in data)]
    for where, provider in given if check_env else ():
        for key, name in missing(provider, where):
            raise ConfigError(
                f"the environment variable {name} is not set (and has no default)", file=source, key=key
            )
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], file=source, key=key or None) from None
    if check_env:
        check_controls(experiment, source)
    return experiment


def load_experiment(path: Path) -> Experiment:
    """Read and validate an experiment file."""
    return parse_experiment(read_document(path), path)


__all__ = ["load_experiment", "parse_experiment", "read_document"]
