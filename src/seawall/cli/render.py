"""Rendering helpers shared by commands: JSON output, status marks, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from seawall.backup.manifest import Artifact

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


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    whole: Collection[str] = (),
) -> Any:
    """A Rich table with the given columns; the ``whole`` ones are never wrapped nor cut (ids to copy)."""
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    out = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for i, col in enumerate(columns):
        if col in whole:
            widest = max((len(r[i]) for r in cells), default=0)
            out.add_column(col, no_wrap=True, min_width=max(widest, len(col)))
        else:
            out.add_column(col)
    for row in cells:
        out.add_row(*row)
    return out


def print_artifact_notes(out: Console, artifacts: Iterable[Artifact]) -> None:
    """Each note of each artifact as a warning line of its own, after its component.

    Notes quote what datastores report (table names, server errors): escaped, so that a ``[`` in
    them is printed rather than taken for Rich markup, and never wrapped, so that one grep finds one.
    """
    from rich.markup import escape

    for a in artifacts:
        for note in a.notes:
            out.print(f"{mark('warn')} {escape(a.component)}: {escape(note)}", soft_wrap=True)


def rpo_lines(figures: Sequence[Any]) -> list[str]:
    """One line per datastore's RPO now (``DatastoreRpo``), when there is more than one to tell apart."""
    from seawall.config import format_duration

    if len(figures) < 2:
        return []
    return [
        f"  {f.component}: "
        + ("no verified backup" if f.seconds is None else f"{format_duration(f.seconds)}, backup {f.backup}")
        for f in figures
    ]


def ms(seconds: float | None) -> str:
    """Latency in milliseconds for tables."""
    return "" if seconds is None else f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else "<1ms"
