"""How the CLI reports failures: one readable message on stderr and a documented exit code."""

from __future__ import annotations

import sys
from typing import Any

from seawall.errors import EXIT_INTERRUPTED, EXIT_USAGE, SeawallError


def run_guarded(app: Any, args: list[str]) -> int:
    """Run a Typer app in non-standalone mode and map every outcome to an exit code."""
    import typer

    # typer vendors click; its ClickException is reachable only through the public subclasses
    click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        result = app(args=args, prog_name="seawall", standalone_mode=False)
    except SeawallError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _print_error("interrupted")
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except BrokenPipeError:
        # `seawall logs | head` closes stdout early: not an error worth a message
        return 0
    except Exception as exc:
        if not isinstance(exc, click_exception):
            raise
        exc.show()  # type: ignore[attr-defined]
        code = getattr(exc, "exit_code", EXIT_USAGE)
        return int(code) if code else EXIT_USAGE
    code = result if isinstance(result, int) else 0
    if code == EXIT_INTERRUPTED:  # typer returns Ctrl-C as a plain 130 in non-standalone mode
        _print_error("interrupted")
    return code


def _print_error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    sys.stderr.flush()
