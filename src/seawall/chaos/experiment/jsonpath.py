"""A JSONPath subset for Chaos Toolkit tolerances: ``$``, ``.key``, ``['k']``, ``[n]``, ``[*]``, ``..key``."""

from __future__ import annotations

import re
from collections.abc import Iterator

_TOKEN = re.compile(
    r"""\.\.(?P<deep>[A-Za-z_][\w-]*|\*)      # ..key  recursive descent
      |\.(?P<key>[A-Za-z_][\w-]*|\*)         # .key  .*
      |\[\s*(?P<index>-?\d+)\s*\]            # [0]
      |\[\s*\*\s*\]                          # [*]
      |\[\s*(?P<q>['"])(?P<quoted>.*?)(?P=q)\s*\]  # ['key']
    """,
    re.VERBOSE,
)

Step = tuple[str, object]  # (op, arg): ("key", "a"), ("index", 0), ("all", None), ("deep", "a")


def compile_path(path: str) -> list[Step]:
    """The steps of ``path``; ValueError for syntax outside the subset (filters, slices, unions)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and text[0] not in ".[":
        text = "." + text  # Chaos Toolkit users often omit "$."
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} at {text[pos:]!r} (filters and slices are not)")
        if match.group("deep") is not None:
            steps.append(("deep", match.group("deep")))
        elif match.group("key") is not None:
            key = match.group("key")
            steps.append(("all", None) if key == "*" else ("key", key))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("quoted") is not None:
            steps.append(("key", match.group("quoted")))
        else:
            steps.append(("all", None))
        pos = match.end()
    return steps


def _children(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _descendants(node: object) -> Iterator[object]:
    yield node
    for child in _children(node):
        yield from _descendants(child)


def _apply(step: Step, node: object) -> Iterator[object]:
    op, arg = step
    if op == "key" and isinstance(node, dict) and arg in node:
        yield node[arg]
    elif op == "index" and isinstance(node, list) and isinstance(arg, int):
        if -len(node) <= arg < len(node):
            yield node[arg]
    elif op == "all":
        yield from _children(node)
    elif op == "deep":
        for each in _descendants(node):
            if arg == "*":
                yield from _children(each)
            elif isinstance(each, dict) and arg in each:
                yield each[arg]


def find(document: object, path: str) -> list[object]:
    """Every value ``path`` matches in ``document``, in document order."""
    nodes = [document]
    for step in compile_path(path):
        nodes = [found for node in nodes for found in _apply(step, node)]
    return nodes


__all__ = ["compile_path", "find"]
