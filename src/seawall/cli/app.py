"""The Typer application: global options and the command table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.cli import cmd_backup, cmd_config, cmd_demo, cmd_ops, cmd_proxy, cmd_stack
from seawall.cli.cmd_chaos import chaos_app
from seawall.cli.context import Options

HELP = """Seawall: operate a stack, back it up and prove the restore, break it on purpose
and measure the recovery.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad configuration or usage, 130 interrupted."""


def _version(value: bool) -> None:
    if value:
        from seawall import __version__

        typer.echo(f"seawall {__version__}")
        raise typer.Exit


def _root(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Stack file (default: ./seawall.yaml).", show_default=False),
    ] = None,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Log lines as 'human' or 'json' (on stderr).")
    ] = "human",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    from seawall.errors import UsageError
    from seawall.observe import LogFormat, configure_logging

    if log_format not in ("human", "json"):
        raise UsageError(f"--log-format must be 'human' or 'json', not {log_format!r}")
    ctx.obj = Options(file=file, log_format=log_format, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)
    configure_logging(LogFormat(log_format), verbose)


def build_app() -> typer.Typer:
    """The `seawall` command with every subcommand registered."""
    app = typer.Typer(
        name="seawall",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for func in (
        cmd_stack.up,
        cmd_stack.down,
        cmd_stack.destroy,
        cmd_stack.status,
        cmd_stack.health,
        cmd_stack.verify,
        cmd_ops.smoke,
        cmd_ops.doctor,
        cmd_ops.storage,
        cmd_stack.logs,
        cmd_stack.restart,
        cmd_stack.kill,
        cmd_stack.pause,
        cmd_stack.unpause,
        cmd_stack.events,
        cmd_config.init,
        cmd_config.validate,
        cmd_config.schema,
        cmd_backup.restore,
        cmd_proxy.proxy,
        cmd_demo.demo,
    ):
        app.command()(func)
    app.add_typer(cmd_backup.backup_app, name="backup")
    app.add_typer(chaos_app, name="chaos")
    return app
