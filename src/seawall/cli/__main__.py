"""Entry point of the `seawall` command: runs the Typer app and turns errors into exit codes."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected failures print one message and exit with their documented code."""
    from seawall.cli.app import build_app
    from seawall.cli.errors import run_guarded

    return run_guarded(build_app(), sys.argv[1:] if argv is None else argv)


def entry() -> None:
    """The console script: exit with the code `main` returns."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
