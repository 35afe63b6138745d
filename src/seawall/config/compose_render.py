"""seawall.yaml text from a data dict: sections in order, short lists inline, comments where useful."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

_TOP_ORDER = (
    "stack",
    "runtime",
    "compose_file",
    "state",
    "components",
    "smoke",
    "backup",
    "objectives",
    "slos",
)
_COMPONENT_ORDER = (
    "image", "command", "cwd", "env", "depends_on", "ports", "volumes", "edges", "datastore",
    "probes", "restart", "resources", "one_shot", "start_timeout", "stop_grace",
)  # fmt: skip
_INLINE_WIDTH = 72
_SUGGESTIONS = """\
# Next steps: keep backups and measure recovery, e.g.
# backup: {repository: ./backups, retention: {keep_last: 7, daily: 7}}
# objectives: {rto: 15m, rpo: 15m, mttr: 5m}
"""


class _Dumper(yaml.SafeDumper):
    """Block style for structure, flow style for short lists and mappings of plain values."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # lists indented under their key, as people write them by hand
        super().increase_indent(flow, False)


class _Block(dict[str, Any]):
    """A mapping always written in block style (the one-key wrappers of top-level sections)."""


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _short(items: Sequence[object]) -> bool:
    return sum(len(str(i)) + 2 for i in items) <= _INLINE_WIDTH


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(_is_scalar(v) for v in value) and _short(value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, value: dict[Any, Any]) -> yaml.Node:
    flat = [f"{k}: {v}" for k, v in value.items()]
    flow = bool(value) and all(_is_scalar(v) for v in value.values()) and _short(flat) and len(value) <= 4
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=flow)


def _represent_block(dumper: yaml.SafeDumper, value: _Block) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=False)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(_Block, _represent_block)


def _ordered(data: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    first = {k: data[k] for k in order if k in data}
    return {**first, **{k: v for k, v in data.items() if k not in first}}


def _dump(value: Any, indent: int = 0) -> str:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def _comment(lines: Sequence[str], indent: int = 0) -> str:
    pad = " " * indent
    return "".join(f"{pad}# {line}\n" for text in lines for line in text.splitlines() or [""])


def render_yaml(
    data: Mapping[str, Any],
    *,
    notes: Mapping[str, Sequence[str]] | None = None,
    header: Sequence[str] = (),
) -> str:
    """seawall.yaml text for ``data``: header comments, then stack, runtime, compose_file, components.

    ``notes`` are comment lines put above each named component. The text parses back to ``data``.
    """
    notes = notes or {}
    out = [_comment(header)] if header else []
    top = _ordered(data, _TOP_ORDER)
    for key, value in top.items():
        if key != "components" or not isinstance(value, Mapping) or not value:
            out.append(
                ("\n" if key in ("components", "backup", "smoke", "slos") else "")
                + _dump(_Block({key: value}))
            )
            continue
        out.append("\ncomponents:\n")
        for index, (name, spec) in enumerate(value.items()):
            if index:
                out.append("\n")
            out.append(_comment(notes.get(name, ()), indent=2))
            body = _ordered(spec, _COMPONENT_ORDER) if isinstance(spec, Mapping) else spec
            out.append(_dump(_Block({name: body}), indent=2))
    if "backup" not in top and "objectives" not in top:
        out.append("\n" + _SUGGESTIONS)
    return "".join(out)
