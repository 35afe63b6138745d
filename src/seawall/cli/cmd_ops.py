"""Commands that check a stack without changing it: doctor, smoke, storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from seawall.cli.context import console, options
from seawall.cli.render import mark, ms, print_json, rpo_lines, table

if TYPE_CHECKING:
    from rich.console import Console

Json = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def render_doctor(report: Any, out: Console) -> None:
    """One line per check with a mark; failures and warnings carry their hint."""
    for check in report.checks:
        line = f"{mark(check.status)} {check.name}: {check.detail}"
        if check.hint and check.status != "ok":
            line += f"\n    [dim]{check.hint}[/]"
        out.print(line)


def doctor(ctx: typer.Context, json_out: Json = False) -> None:
    """Preflight: tools and versions, ports, disk, memory, config, runtime. Exit 1 if a check fails."""
    from seawall.ops.doctor import run_doctor

    opts = options(ctx)
    report = run_doctor(opts.stack(), opts.runtime())
    if json_out:
        print_json(report.to_dict())
    else:
        out = console()
        render_doctor(report, out)
        fails = sum(c.status == "fail" for c in report.checks)
        warns = sum(c.status == "warn" for c in report.checks)
        out.print(f"{len(report.checks)} checks: {fails} failed, {warns} warnings")
    raise typer.Exit(report.exit_code)


def smoke(ctx: typer.Context, json_out: Json = False) -> None:
    """Run the smoke checks of the stack file (data path, not just reachability)."""
    from seawall.ops.smoke import run_smoke

    report = run_smoke(options(ctx).stack())
    if json_out:
        print_json(report.to_dict())
    else:
        out = console()
        for r in report.results:
            out.print(f"{mark('ok' if r.passed else 'fail')} {r.name} ({r.kind}) {ms(r.latency)} {r.detail}")
        out.print(report.summary)
    raise typer.Exit(report.exit_code)


def storage(ctx: typer.Context, json_out: Json = False) -> None:
    """Data size per datastore, free disk where data lives, and the backup repository with the RPO now."""
    from seawall.config import format_size
    from seawall.ops.storage import measure_storage

    report = measure_storage(options(ctx).stack())
    if json_out:
        print_json(report.to_dict())
        return
    out = console()
    rows = [
        (
            r.component,
            r.kind,
            "" if r.size_bytes is None else format_size(r.size_bytes),
            r.error or r.detail,
        )
        for r in report.datastores
    ]
    out.print(table("datastores", ["component", "kind", "size", "detail"], rows))
    disk_rows = [(d.path, format_size(d.free_bytes), format_size(d.total_bytes)) for d in report.disks]
    out.print(table("disk", ["path", "free", "total"], disk_rows))
    if report.volumes or report.volume_error:
        vol_rows = [(n, "unknown" if b < 0 else format_size(b)) for n, b in report.volumes]
        out.print(table("volumes", ["volume", "size"], vol_rows))
        if report.volume_error:
            out.print(f"{mark('warn')} volumes not measured: {report.volume_error}")
    if report.repository is not None:
        render_repository(report.repository, out)


def render_repository(repo: Any, out: Console) -> None:
    """The repository's size and backups, the newest verified backup and its age (the RPO now)."""
    from seawall.config import format_duration, format_size

    if repo.error is not None and not repo.backups:
        out.print(f"{mark('warn')} backups at {repo.location}: {repo.error}")
        return
    size = "" if repo.size_bytes is None else f"{format_size(repo.size_bytes)}, "
    count = f"{repo.backups} backup{'s' * (repo.backups != 1)}"
    newest = f", newest {repo.newest}" if repo.newest else ""
    out.print(f"backups at {repo.location}: {size}{count}{newest}")
    objective = "" if repo.rpo_objective is None else f" (objective {format_duration(repo.rpo_objective)})"
    status = "warn" if repo.over_objective or repo.rpo_seconds is None else "ok"
    of = f" of {repo.rpo_component}" if repo.rpo_component else ""
    if repo.rpo_seconds is None:
        out.print(f"{mark(status)} RPO now: no verified backup{of}{objective}")
    else:
        age = format_duration(repo.rpo_seconds)
        backup = next(d.backup for d in repo.datastores if d.component == repo.rpo_component)
        out.print(f"{mark(status)} RPO now: {age}{of}, newest verified backup {backup}{objective}")
    for line in rpo_lines(repo.datastores):
        out.print(line)
    if repo.error is not None:
        out.print(f"{mark('warn')} {repo.error}")
