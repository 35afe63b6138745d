"""Entry point of the `seawall` command: runs the Typer app and turns errors into exit codes."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected failures print one message and exit with their documented code."""
    from seawall.cli.app import build_app
    from seawall.cli.errors import run_guarded

    return run_guarded(build_app(), sys.argv[1:] if argv is None else argv)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM gets the same cleanup as Ctrl-C (stack down, faults restored), then exit 130
    raise KeyboardInterrupt


def entry() -> None:
    """The console script: exit with the code `main` returns."""
    from seawall.cli.helpcache import cached_help

    text = cached_help(sys.argv[1:])
    if text is not None:
        sys.stdout.write(text)
        return
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())


if __name__ == "__main__":
    entry()
