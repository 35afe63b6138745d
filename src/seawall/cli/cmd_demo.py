"""`seawall demo`: write the built-in demo stack and run the drill on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.context import console
from seawall.cli.render import mark, print_json, table


def demo(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write the demo stack (default: a new temporary directory).", show_default=False
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the drill on the built-in demo stack: doctor, up, health, smoke, kill -9, MTTR, latency, down."""
    import tempfile

    from seawall.drill import run_demo
    from seawall.drill.demo import seconds
    from seawall.runtime import get_runtime

    target = directory or Path(tempfile.mkdtemp(prefix="seawall-demo-"))
    err = console(stderr=True)
    err.print(f"[bold]Seawall demo[/] in {target}")

    def progress(step: str, message: str) -> None:
        err.print(f"  [dim]{step}:[/] {message}")

    report = run_demo(target.resolve(), get_runtime, progress)
    if json_out:
        print_json(report.to_dict())
    else:
        rows = [(mark("ok" if s.ok else "fail"), s.name, f"{s.seconds:.2f}s", s.detail) for s in report.steps]
        out = console()
        out.print(table("drill", ["", "step", "time", "detail"], rows))
        if report.mttr is not None:
            goal = report.mttr_objective
            verdict = "meets" if goal is None or report.mttr <= goal else "misses"
            out.print(
                f"MTTR of catalog after SIGKILL: [bold]{report.mttr:.2f}s[/]"
                + (f" ({verdict} the {goal:g}s objective)" if goal is not None else "")
            )
        loss = report.data_loss
        if loss is not None:
            out.print(
                f"data loss: RTO [bold]{loss.rto:.2f}s[/]{_goal(loss.rto, report.rto_objective)}, "
                f"RPO [bold]{loss.rpo:.2f}s[/]{_goal(loss.rpo, report.rpo_objective)}, "
                f"fingerprints {'equal' if loss.fingerprints_equal else '[red]differ[/]'} "
                f"(backup {loss.backup_id}, {loss.raw_bytes} -> {loss.stored_bytes} bytes)"
            )
        chaos = report.chaos
        if chaos is not None:
            out.print(
                f"{chaos.latency_ms} ms latency on {chaos.edge} ({chaos.status}): time to impact "
                f"[bold]{seconds(chaos.time_to_impact)}[/], recovered [bold]{seconds(chaos.after_removal)}[/]"
                f" after removal, MTTR [bold]{seconds(chaos.mttr)}[/]"
            )
        out.print(f"{mark('ok' if report.ok else 'fail')} demo {'passed' if report.ok else 'failed'}")
    raise typer.Exit(0 if report.ok else 1)


def _goal(value: float, objective: float | None) -> str:
    if objective is None:
        return ""
    return f" ({'meets' if value <= objective else 'misses'} the {objective:g}s objective)"
