"""The top-level `seawall --help`, rendered once and shipped, so printing it needs no Typer import.

Importing Typer costs several times Python's own start-up, and `seawall --help` is the command
people run most often. The cached text is exactly what Typer renders at the width it uses on a
terminal of 80 columns or more (its maximum); a test compares the two, so the cache cannot drift.
Regenerate it with ``python -m seawall.cli.helpcache`` (``make help-cache``).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

HELP_FILE = os.path.join(os.path.dirname(__file__), "help.txt")
HELP_WIDTH = 80  # Typer (click) never wraps help wider than this


def cached_help(argv: list[str]) -> str | None:
    """The cached top-level help when ``argv`` asks for it on a wide enough output, else None."""
    if argv not in (["--help"], ["-h"]) or _columns() < HELP_WIDTH:
        return None
    try:
        with open(HELP_FILE, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _columns() -> int:
    # the same order as shutil.get_terminal_size, which click uses: COLUMNS, then the terminal
    with contextlib.suppress(KeyError, ValueError):
        return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
    except (OSError, ValueError):
        return HELP_WIDTH


def render_help() -> str:
    """What Typer prints for `seawall --help` at the cached width."""
    from seawall.cli.app import build_app
    from seawall.cli.errors import run_guarded

    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH)
    try:
        with contextlib.redirect_stdout(out):
            run_guarded(build_app(), ["--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue()


if __name__ == "__main__":
    with open(HELP_FILE, "w", encoding="utf-8") as target:
        target.write(render_help())
