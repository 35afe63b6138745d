"""Commands about the stack file: init (from a compose file), validate, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.context import console, options
from seawall.cli.render import mark, print_json


def schema() -> None:
    """Print the JSON Schema of seawall.yaml (for editor completion and CI validation)."""
    from seawall.config import json_schema

    print_json(json_schema())


def validate(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the stack file; exit 2 with file, line and key if it is invalid."""
    stack = options(ctx).stack()
    if json_out:
        print_json({"valid": True, "file": str(stack.source), "components": list(stack.components)})
        return
    console().print(f"{mark('ok')} {stack.source}: stack {stack.stack}, {len(stack.components)} components")


def init(
    ctx: typer.Context,
    from_compose: Annotated[
        Path | None, typer.Option("--from", help="A docker-compose.yml to import.", show_default=False)
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path("seawall.yaml"),
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="Compose profiles to include.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Stack name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a seawall.yaml, from a compose file when given --from."""
    from seawall.errors import UsageError

    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="pass --force to overwrite it")
    err = console(stderr=True)
    if from_compose is None:
        stack = name or Path.cwd().name
        text = f"stack: {stack}\nruntime: local\ncomponents: {{}}\n"
    else:
        from seawall.config.compose_import import import_compose

        result = import_compose(
            from_compose, profiles=profile or (), stack_name=name, output_dir=output.resolve().parent
        )
        text = result.render()
        for warning in result.warnings:
            err.print(f"{mark('warn')} {warning}")
        if result.variables:
            err.print(
                f"{mark('warn')} set these in {output.resolve().parent / '.env'} (secrets stay out of "
                f"seawall.yaml): {', '.join(result.variables)}"
            )
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    err.print(f"{mark('ok')} wrote {output}")
