"""Rendering helpers shared by commands: JSON output, status marks, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

MARKS = {
    "ok": "[green]✔[/]",
    "pass": "[green]✔[/]",
    "warn": "[yellow]![/]",
    "fail": "[red]✘[/]",
    "skip": "[dim]-[/]",
}


def mark(status: str) -> str:
    """A coloured mark for a status word."""
    return MARKS.get(status, "[dim]?[/]")


def print_json(data: Any) -> None:
    """Machine output on stdout: indented JSON, one document."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    """A Rich table with the given columns."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for col in columns:
        out.add_column(col)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def ms(seconds: float | None) -> str:
    """Latency in milliseconds for tables."""
    return "" if seconds is None else f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else "<1ms"
