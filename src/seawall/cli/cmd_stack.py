"""Commands that operate the stack: up, down, destroy, status, health, verify, logs, restart, kill, pause."""

from __future__ import annotations

import signal as signals
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seawall.cli.context import console, options
from seawall.cli.render import mark, ms, print_json, table

if TYPE_CHECKING:
    from rich.console import Console

    from seawall.ops.destroy import DestroyPlan, DestroyResult
    from seawall.ops.health import HealthReport

Names = Annotated[list[str] | None, typer.Argument(help="Components (default: all).", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def up(
    ctx: typer.Context,
    components: Names = None,
    no_doctor: Annotated[bool, typer.Option("--no-doctor", help="Skip the preflight checks.")] = False,
) -> None:
    """Start the stack (or COMPONENTS and what they depend on) in order, waiting until each is ready."""
    from seawall.ops.lifecycle import up as run_up

    opts = options(ctx)
    stack, err = opts.stack(), console(stderr=True)
    if not no_doctor:
        from seawall.cli.cmd_ops import render_doctor
        from seawall.ops.doctor import run_doctor

        report = run_doctor(stack, opts.runtime())
        if report.exit_code:
            render_doctor(report, err)
            err.print("[red]doctor found problems; fix them or pass --no-doctor[/]")
            raise typer.Exit(1)
    with err.status("starting...") as spinner:

        def progress(component: str, message: str) -> None:
            spinner.update(f"{component}: {message}")
            if message in ("ready", "already running"):
                err.print(f"{mark('ok')} {component} {message}")

        report_up = run_up(stack, opts.runtime(), components or (), progress)
    with opts.store() as store:
        store.record("up", None, components=[o.component for o in report_up.outcomes])
    err.print(f"[green]stack {stack.stack} is up[/] ({report_up.seconds:.1f}s)")


def down(ctx: typer.Context, components: Names = None) -> None:
    """Stop the stack (or COMPONENTS); all data is kept. Use `destroy` to remove data."""
    from seawall.ops.lifecycle import down as run_down

    opts = options(ctx)
    err = console(stderr=True)
    run_down(opts.stack(), opts.runtime(), components or (), lambda c, m: err.print(f"  {c}: {m}"))
    if not components:
        from seawall.runtime import shutdown

        shutdown(opts.stack())
    with opts.store() as store:
        store.record("down", None, components=components or "all")
    err.print(
        f"[green]stopped[/] ({'all components' if not components else ', '.join(components)}); data kept"
    )


def _render_plan(plan: DestroyPlan, backup: bool, out: Console) -> None:
    """What destroy stops, removes and keeps, before anything happens."""
    out.print(f"[bold]seawall destroy[/] of stack [bold]{plan.stack}[/]:")
    if backup:
        out.print("  first: a full backup of every datastore (destroy aborts if it fails)")
    else:
        out.print("  [yellow]no backup is taken (--no-backup)[/]")
    if plan.stopped:
        out.print(f"  stop: {', '.join(plan.stopped)}")
    if plan.unmanaged:
        out.print(f"  [dim]not run by the stack (nothing to stop): {', '.join(plan.unmanaged)}[/]")
    for item in plan.data:
        note = f" [dim]({item.note})[/]" if item.note else ""
        if item.removed:
            out.print(f"  [red]remove[/] {item.component} ({item.kind}) {item.location}: {item.action}{note}")
        else:
            out.print(f"  keep {item.component} ({item.kind}) {item.location}{note}")
    for path, why in plan.kept:
        out.print(f"  keep {path} [dim]({why})[/]")


def _interactive() -> bool:
    """Whether an operator can answer a prompt (stdin is a terminal)."""
    import sys

    return sys.stdin is not None and sys.stdin.isatty()


def _confirm(stack_name: str) -> None:
    """The operator types the stack name, or ConfirmationRefused (exit 2) and nothing is touched."""
    from seawall.errors import ConfirmationRefused

    if not _interactive():
        raise ConfirmationRefused(
            "destroy needs the stack name typed at a terminal; nothing was touched",
            hint="pass --yes to destroy without asking",
        )
    answer = typer.prompt(
        f"type the stack name ({stack_name}) to confirm", default="", show_default=False, err=True
    )
    if answer.strip() != stack_name:
        raise ConfirmationRefused(f"{answer.strip()!r} is not {stack_name!r}; nothing was touched")


def _render_destroyed(result: DestroyResult, out: Console) -> None:
    if result.backup_id:
        out.print(
            f"{mark('ok')} backup {result.backup_id} (restore with `seawall restore {result.backup_id}`)"
        )
    for r in result.removals:
        out.print(f"{mark('ok' if r.ok else 'fail')} {r.component} ({r.kind}) {r.location}: {r.detail}")
    if result.ok:
        out.print(
            f"[green]stack {result.plan.stack} destroyed[/] ({result.seconds:.1f}s); state and backups kept"
        )
    else:
        out.print(f"[red]some data of stack {result.plan.stack} could not be removed[/]")


def destroy(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for the stack name.")] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Skip the full backup taken first (the data is lost).")
    ] = False,
    json_out: Json = False,
) -> None:
    """Back up every datastore, stop the stack, remove its data. Asks for the stack name first."""
    from seawall.ops.destroy import destroy as run_destroy
    from seawall.ops.destroy import plan_destroy

    opts = options(ctx)
    stack, err = opts.stack(), console(stderr=True)
    _render_plan(plan_destroy(stack), not no_backup, err)
    if not yes:
        _confirm(stack.stack)
    with err.status("destroying...") as spinner:

        def progress(component: str, message: str) -> None:
            spinner.update(f"{component}: {message}")
            err.print(f"  {component}: {message}")

        result = run_destroy(stack, opts.runtime(), confirmed=True, skip_backup=no_backup, progress=progress)
    if json_out:
        print_json(result.to_dict())
    else:
        _render_destroyed(result, console())
    raise typer.Exit(result.exit_code)


def _health(ctx: typer.Context, components: list[str] | None, run_probes: bool = True) -> HealthReport:
    from seawall.ops.health import check_health

    opts = options(ctx)
    with opts.store() as store:
        return check_health(opts.stack(), opts.runtime(), components or (), store, run_probes)


def _render_health(report: HealthReport, limits: bool) -> Any:
    from seawall.config import format_duration

    rows = []
    for comp in report.components:
        rt = comp.runtime
        probes = "  ".join(
            f"{role} {mark(r.status.value)} {ms(r.latency)}" + (f" ({r.detail})" if not r.ok else "")
            for role, r in comp.probes.items()
        )
        row = [
            mark(comp.status.value),
            comp.name,
            rt.state if rt else "?",
            rt.pid if rt and rt.pid else "",
            format_duration(comp.uptime) if comp.uptime is not None else "",
            rt.restart_count if rt else "",
            "" if not rt or rt.last_exit_code is None else rt.last_exit_code,
            probes or "[dim]no probes[/]",
        ]
        if limits:
            row.append(
                ", ".join(f"{x.name}={x.value}{'' if x.enforced else ' (not enforced)'}" for x in rt.limits)
                if rt
                else ""
            )
        rows.append(row)
    cols = ["", "component", "state", "pid", "uptime", "restarts", "exit", "probes"]
    return table(None, [*cols, "limits"] if limits else cols, rows)


def _show(
    ctx: typer.Context, components: list[str] | None, json_out: bool, watch: float | None, limits: bool
) -> None:
    if watch:
        import time

        from rich.live import Live

        with Live(console=console(), auto_refresh=False) as live:
            try:
                while True:
                    live.update(_render_health(_health(ctx, components), limits), refresh=True)
                    time.sleep(watch)
            except KeyboardInterrupt:
                return
    report = _health(ctx, components)
    if json_out:
        print_json(report.to_dict())
    else:
        out = console()
        out.print(_render_health(report, limits))
        out.print(f"{mark(report.status.value)} stack {report.stack}: {report.status.value}")
    raise typer.Exit(report.exit_code)


Watch = Annotated[
    float | None, typer.Option("--watch", "-w", help="Refresh every N seconds until Ctrl-C.", min=0.2)
]


def status(ctx: typer.Context, components: Names = None, json_out: Json = False, watch: Watch = None) -> None:
    """One line per component: state, pid, uptime, restarts, probes, and which limits are enforced."""
    _show(ctx, components, json_out, watch, limits=True)


def health(
    ctx: typer.Context,
    components: Names = None,
    json_out: Json = False,
    watch: Watch = None,
    health_json: Annotated[
        bool, typer.Option("--health-json", help="Print application/health+json.")
    ] = False,
) -> None:
    """Run every probe now: one line per component with each probe's result and latency. Exit 1 on failure."""
    if health_json:
        report = _health(ctx, components)
        print_json(report.to_health_json())
        raise typer.Exit(report.exit_code)
    _show(ctx, components, json_out, watch, limits=False)


def verify(ctx: typer.Context, json_out: Json = False) -> None:
    """The quick check: every probe once, one summary line. Exit 1 if any fails."""
    report = _health(ctx, None)
    results = [r for c in report.components for r in c.probes.values()]
    failed = [f"{c.name}.{role}" for c in report.components for role, r in c.probes.items() if not r.ok]
    down_ = [
        c.name
        for c in report.components
        if c.status.value == "fail" and not any(not r.ok for r in c.probes.values())
    ]
    if json_out:
        print_json({"status": report.status.value, "probes": len(results), "failed": failed, "down": down_})
    else:
        passed = len(results) - len(failed)
        extra = f"; failing: {', '.join(failed + down_)}" if failed or down_ else ""
        console().print(
            f"{mark(report.status.value)} {passed}/{len(results)} probes passed across "
            f"{len(report.components)} components{extra}"
        )
    raise typer.Exit(report.exit_code)


def logs(
    ctx: typer.Context,
    component: Annotated[str, typer.Argument(help="Component whose log to show.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", "-n", help="Only the last N lines.", min=0)] = None,
) -> None:
    """Print a component's log (stdout and stderr)."""
    import sys

    from seawall.ops.lifecycle import check_names

    opts = options(ctx)
    check_names(opts.stack(), [component])
    try:
        for line in opts.runtime().logs(component, tail=tail, follow=follow):
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
            if follow:
                sys.stdout.flush()
    except KeyboardInterrupt:
        return


def _one(ctx: typer.Context, component: str, verb: str) -> None:
    from seawall.ops.lifecycle import check_names

    opts = options(ctx)
    check_names(opts.stack(), [component])
    getattr(opts.runtime(), verb)(component)
    console(stderr=True).print(f"{mark('ok')} {component}: {verb} done")


def restart(ctx: typer.Context, component: Annotated[str, typer.Argument()]) -> None:
    """Stop a component gracefully and start it again."""
    _one(ctx, component, "restart")


def pause(ctx: typer.Context, component: Annotated[str, typer.Argument()]) -> None:
    """Freeze a component (SIGSTOP)."""
    _one(ctx, component, "pause")


def unpause(ctx: typer.Context, component: Annotated[str, typer.Argument()]) -> None:
    """Thaw a paused component (SIGCONT)."""
    _one(ctx, component, "resume")


def kill(
    ctx: typer.Context,
    component: Annotated[str, typer.Argument()],
    signal: Annotated[str, typer.Option("--signal", "-s", help="Signal name or number.")] = "SIGKILL",
) -> None:
    """Send a signal to a component (default SIGKILL); its restart policy then applies."""
    from seawall.errors import UsageError
    from seawall.ops.lifecycle import check_names

    name = signal.upper() if not signal.isdigit() else signal
    try:
        sig = (
            int(name)
            if name.isdigit()
            else int(signals.Signals[name if name.startswith("SIG") else f"SIG{name}"])
        )
    except KeyError:
        raise UsageError(f"unknown signal {signal!r}") from None
    opts = options(ctx)
    check_names(opts.stack(), [component])
    opts.runtime().kill(component, sig)
    console(stderr=True).print(f"{mark('ok')} sent signal {sig} to {component}")


def events(
    ctx: typer.Context,
    component: Annotated[str | None, typer.Argument(help="Only this component.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    json_out: Json = False,
) -> None:
    """The event log: who started, stopped, killed or restarted what, and when."""
    from dataclasses import asdict

    from seawall.clock import iso

    opts = options(ctx)
    with opts.store() as store:
        items = store.events(component=component, limit=limit)
    if json_out:
        print_json([{**asdict(e), "time": iso(e.ts)} for e in items])
        return
    rows = [
        (iso(e.ts), e.kind, e.component or "", e.actor, ", ".join(f"{k}={v}" for k, v in e.detail.items()))
        for e in reversed(items)
    ]
    console().print(table(None, ["time", "event", "component", "actor", "detail"], rows))
