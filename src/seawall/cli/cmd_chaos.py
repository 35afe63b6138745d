"""`seawall chaos`: plan, run, validate, import, restore, panic, list, show, and gameday commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seawall.cli.context import console, options
from seawall.cli.render import mark, print_json, table

if TYPE_CHECKING:
    from seawall.chaos.restore import RestoreReport

chaos_app = typer.Typer(
    name="chaos",
    help="Break the stack on purpose, safely, and measure the recovery. Exit codes of `run`: "
    "0 passed, 10 deviated, 11 not_recovered, 12 injection_failed, 13 restore_failed, "
    "14 aborted_by_guard, 130 interrupted; 2 bad experiment or usage.",
    no_args_is_help=True,
)

File = Annotated[Path, typer.Argument(help="Experiment file (Seawall YAML or Chaos Toolkit JSON/YAML).")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
Seed = Annotated[
    int | None, typer.Option("--seed", help="Seed for target choice and toxicity draws (replays a run).")
]


@chaos_app.command()
def validate(ctx: typer.Context, file: File, json_out: Json = False) -> None:
    """Check an experiment file against the format and the stack (targets, edges, probes)."""
    from seawall.chaos.experiment import load_experiment, plan_experiment

    experiment = load_experiment(file)
    plan = plan_experiment(experiment, options(ctx).stack(), 0)
    if json_out:
        print_json({"ok": True, "title": experiment.title, "faults": len(plan.faults)})
    else:
        console().print(f"{mark('ok')} {file}: {experiment.title!r}, {len(experiment.method)} steps")


@chaos_app.command()
def plan(ctx: typer.Context, file: File, seed: Seed = None, json_out: Json = False) -> None:
    """Dry run: resolved targets, faults, their inverses and the blast radius. Nothing is touched."""
    from seawall.chaos.experiment import load_experiment, plan_experiment

    resolved = plan_experiment(load_experiment(file), options(ctx).stack(), seed)
    if json_out:
        print_json(resolved.to_dict())
        return
    out = console()
    rows = [
        (p.step + 1, p.spec.kind, p.target, p.fault.to_dict(), p.fault.inverse().to_dict()["kind"])
        for p in resolved.faults
    ]
    out.print(
        table(f"plan: {resolved.experiment.title}", ["step", "fault", "target", "settings", "inverse"], rows)
    )
    out.print(f"seed {resolved.seed}; blast radius: {', '.join(resolved.blast_radius) or 'none'}")


@chaos_app.command()
def run(
    ctx: typer.Context,
    file: File,
    seed: Seed = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    journal: Annotated[Path | None, typer.Option("--journal", help="Write the JSON journal here.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")
    ] = None,
    json_out: Json = False,
) -> None:
    """Run an experiment; faults and rollbacks are always undone. The exit code is the status's."""
    import json

    from seawall.chaos.experiment import build_journal, load_experiment, run_experiment, save_run
    from seawall.chaos.experiment import junit as render_junit
    from seawall.chaos.experiment import markdown as render_markdown
    from seawall.runtime import get_runtime

    opts = options(ctx)
    experiment = load_experiment(file)
    err = console(stderr=True)
    record = run_experiment(
        experiment,
        opts.stack(),
        seed=seed,
        runtime_factory=get_runtime,
        progress=lambda m: err.print(f"  {m}"),
    )
    doc = build_journal(record)
    with opts.store() as store:
        save_run(store, doc, record.start)
    if journal is not None:
        journal.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    if junit is not None:
        junit.write_text(render_junit(doc), encoding="utf-8")
    if markdown is not None:
        markdown.write_text(render_markdown(doc), encoding="utf-8")
    if json_out:
        print_json(doc)
    else:
        _render_summary(doc)
    raise typer.Exit(record.exit_code)


def _render_summary(doc: dict[str, Any]) -> None:
    sw = doc["seawall"]
    out = console()
    rows = []
    for fault in sw["faults"]:
        for label, m in fault["probes"].items():
            rows.append(
                (
                    fault["kind"],
                    fault["target"],
                    label,
                    _ms(m["time_to_impact"]),
                    _ms(m["recovery_after_removal"]),
                    _ms(m["mttr"]),
                )
            )
    if rows:
        cols = ["fault", "target", "probe", "impact after", "recovered after removal", "mttr"]
        out.print(table("measured recovery", cols, rows))
    status = sw["status"]
    colour = "green" if status == "passed" else "red"
    out.print(f"[{colour}]{status}[/] (exit {sw['exit_code']}) run {sw['run_id']}, seed {sw['seed']}")
    for note in sw["notes"]:
        out.print(f"  {note}")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}ms"


@chaos_app.command("import")
def import_(
    file: File,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Convert a Chaos Toolkit experiment (JSON or YAML) to Seawall's YAML format."""
    import yaml

    from seawall.chaos.experiment import parse_experiment
    from seawall.chaos.experiment.chaostoolkit import convert_chaostoolkit
    from seawall.chaos.experiment.load import read_document

    conversion = convert_chaostoolkit(read_document(file))
    converted = conversion.document
    for note in conversion.notes:  # what was not kept as it was: never dropped silently
        typer.echo(f"warning: {note}", err=True)
    # fail here, not at run time, when it does not validate (its variables are set where it runs)
    parse_experiment(converted, file, check_env=False)
    text = yaml.safe_dump(converted, sort_keys=False, allow_unicode=True)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _render_restore(report: RestoreReport, json_out: bool, verb: str) -> None:
    if json_out:
        print_json(report.to_dict())
    else:
        out = console()
        if not report.outcomes:
            out.print(f"{mark('ok')} nothing to {verb}")
        for o in report.outcomes:
            out.print(f"{mark('ok' if o.ok else 'fail')} {o.entry.kind} on {o.entry.target}: {o.detail}")
        for entry in report.skipped:
            out.print(
                f"{mark('skip')} {entry.kind} on {entry.target}: its run ({entry.owner}) is still going"
            )
    if not report.ok:
        raise typer.Exit(13)


@chaos_app.command()
def restore(ctx: typer.Context, json_out: Json = False) -> None:
    """Replay every pending inverse left by crashed or gameday runs (safe to run any number of times)."""
    from seawall.chaos.restore import restore_pending

    _render_restore(restore_pending(options(ctx).stack()), json_out, "restore")


@chaos_app.command()
def panic(ctx: typer.Context, json_out: Json = False) -> None:
    """Restore everything at once, including faults of runs still in progress."""
    from seawall.chaos.restore import panic as run_panic

    _render_restore(run_panic(options(ctx).stack()), json_out, "restore")


@chaos_app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    json_out: Json = False,
) -> None:
    """Past runs, newest first."""
    from seawall import clock
    from seawall.chaos.experiment import list_runs

    with options(ctx).store() as store:
        runs = list_runs(store, limit)
    if json_out:
        print_json([r.to_dict() for r in runs])
        return
    rows = [
        (r.id, clock.iso(r.ts), r.title, r.status, r.exit_code, r.seed, f"{r.duration:.1f}s") for r in runs
    ]
    console().print(table(None, ["run", "started", "title", "status", "exit", "seed", "duration"], rows))


@chaos_app.command()
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    json_out: Json = False,
) -> None:
    """One past run: its Markdown summary, or its full journal with --json."""
    from seawall.chaos.experiment import get_run, markdown

    with options(ctx).store() as store:
        doc = get_run(store, run_id)
    if json_out:
        print_json(doc)
    else:
        typer.echo(markdown(doc), nl=False)


@chaos_app.command()
def inject(ctx: typer.Context, file: File, seed: Seed = None, json_out: Json = False) -> None:
    """Gameday: apply the experiment's faults and leave them in place (undo with `chaos restore`)."""
    from seawall.chaos.experiment import load_experiment
    from seawall.chaos.experiment.gameday import inject_only

    result = inject_only(load_experiment(file), options(ctx).stack(), seed)
    if json_out:
        print_json(result)
    else:
        out = console()
        for fault in result["faults"]:
            out.print(
                f"{mark('ok' if fault['ok'] else 'fail')} {fault['kind']} on {fault['target']}: "
                f"{fault['detail']}"
            )
        out.print(f"gameday run {result['run_id']}; record `chaos checkpoint detected` when you notice it")
    if not all(f["ok"] for f in result["faults"]):
        raise typer.Exit(12)


@chaos_app.command()
def verify(ctx: typer.Context, file: File, json_out: Json = False) -> None:
    """Gameday: check the experiment's steady-state hypothesis once (exit 10 if it does not hold)."""
    from seawall.chaos.experiment import load_experiment
    from seawall.chaos.experiment.gameday import verify_only

    results = verify_only(load_experiment(file), options(ctx).stack())
    if json_out:
        print_json([r.to_journal() for r in results])
    else:
        for r in results:
            console().print(f"{mark('ok' if r.ok else 'fail')} {r.activity.label}")
    if not all(r.ok for r in results):
        raise typer.Exit(10)


@chaos_app.command()
def checkpoint(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="detected, mitigated, resolved or note.")],
    run_id: Annotated[str | None, typer.Option("--run", help="The gameday run it belongs to.")] = None,
    note: Annotated[str, typer.Option("--note", help="Free text.")] = "",
) -> None:
    """Gameday: record a manual checkpoint with the current time (shown by `seawall events`)."""
    from seawall import clock
    from seawall.chaos.experiment.gameday import checkpoint as record_checkpoint

    with options(ctx).store() as store:
        ts = record_checkpoint(store, name, run_id, note)
    console().print(f"{mark('ok')} {name} at {clock.iso(ts)}")
