"""Backup commands: create, list, show, verify, prune, keygen; and the top-level restore."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seawall.cli.context import console, options
from seawall.cli.render import mark, print_artifact_notes, print_json, rpo_lines, table

if TYPE_CHECKING:
    from collections.abc import Callable

    from seawall.config import StackConfig
    from seawall.runtime import Runtime

Json = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
Identity = Annotated[
    Path | None,
    typer.Option(
        "--identity", "-i", help="age identity file that opens encrypted backups.", show_default=False
    ),
]
BackupId = Annotated[str, typer.Argument(help="Backup id (or a unique prefix of one), or 'latest'.")]

backup_app = typer.Typer(
    help="Back up every datastore of the stack, list, verify (--deep: by restoring), prune.",
    no_args_is_help=True,
)


def _size(n: int | None) -> str:
    from seawall.config import format_size

    return "" if n is None else format_size(n)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A Rich progress bar per component on stderr: bytes, total when known, rate."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def update(component: str, done: int, total: int | None) -> None:
        if component not in tasks:
            tasks[component] = bars.add_task(component, total=total)
        # a size hint can be exceeded (dump overhead): grow the bar instead of overflowing it
        grown = None if total is None else max(total, done)
        bars.update(tasks[component], completed=done, total=grown)

    with bars:
        yield update


@backup_app.command("create")
def create(
    ctx: typer.Context,
    component: Annotated[
        list[str] | None, typer.Option("--component", "-c", help="Only this datastore (repeatable).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag the backup (repeatable).")] = None,
    json_out: Json = False,
) -> None:
    """Back up every datastore (or --component ones) under one id. Exit 1 if any datastore failed."""
    from seawall.backup import create_backup

    stack = options(ctx).stack()
    with _progress(not json_out) as progress:
        result = create_backup(stack, component or (), tag or (), progress)
    if json_out:
        print_json(result.to_dict())
        raise typer.Exit(result.exit_code)
    out = console()
    rows: list[list[Any]] = [
        [mark("ok"), a.component, a.kind, _size(a.raw_bytes), _size(a.stored_bytes), f"{a.duration:.1f}s", ""]
        for a in result.artifacts
    ]
    rows += [[mark("fail"), f.component, f.kind, "", "", "", f.error] for f in result.failed]
    out.print(table(None, ["", "component", "kind", "size", "stored", "time", "error"], rows))
    print_artifact_notes(out, result.artifacts)
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    if result.committed:
        out.print(f"{mark('ok' if result.ok else 'warn')} backup {result.id} ({result.seconds:.1f}s)")
    else:
        out.print(f"{mark('fail')} no backup was written")
    raise typer.Exit(result.exit_code)


@backup_app.command("list")
def list_(
    ctx: typer.Context,
    rescan: Annotated[
        bool, typer.Option("--rescan", help="Rebuild the catalog from the repository.")
    ] = False,
    json_out: Json = False,
) -> None:
    """Backups, oldest first, with their last verification and the current RPO."""
    from seawall.backup import list_backups
    from seawall.config import format_duration

    listing = list_backups(options(ctx).stack(), rescan)
    if json_out:
        print_json(listing.to_dict())
        return
    out = console()
    rows = []
    for b in listing.backups:
        e, check = b.entry, b.last_check
        verified = (
            "" if check is None else f"{mark('ok' if check.ok else 'fail')} {'deep' if check.deep else 'sha'}"
        )
        rows.append(
            [
                e.id,
                ", ".join(e.components),
                _size(e.stored_bytes),
                ", ".join(e.tags),
                "" if e.complete else "partial",
                verified,
            ]
        )
    # the id is what one copies into verify, show and restore: never wrapped or cut, others give way.
    # It is also the start time in UTC, so no column repeats it (--json has started_at)
    out.print(
        table(
            None,
            ["id (UTC start)", "components", "stored", "tags", "", "verified"],
            rows,
            whole=("id (UTC start)",),
        )
    )
    for error in listing.errors:
        out.print(f"{mark('fail')} {error}")
    worst = listing.rpo_worst
    of = f" of {worst.component}" if worst else ""
    if worst is None or worst.seconds is None:
        out.print(f"RPO now: no verified backup{of}")
    else:
        out.print(f"RPO now: {format_duration(worst.seconds)}{of}, newest verified backup {worst.backup}")
    for line in rpo_lines(listing.rpo):
        out.print(line)


@backup_app.command("show")
def show(ctx: typer.Context, backup_id: BackupId = "latest", json_out: Json = False) -> None:
    """One backup's manifest: artifacts, checksums, positions, fingerprints, verifications."""
    from seawall.backup import ManifestCheck, show_backup

    detail = show_backup(options(ctx).stack(), backup_id)
    if json_out:
        print_json(detail.to_dict())
        return
    m, out = detail.manifest, console()
    out.print(f"backup {m.id} of {m.stack}, {m.to_dict()['started_at']}, tags: {', '.join(m.tags) or '-'}")
    out.print(f"encryption: {'age' if m.encryption else 'none'}; compression: {m.compression}")
    out.print(f"manifest: {ManifestCheck(m.checksum).detail}")
    rows = [
        [
            a.component,
            a.kind,
            a.file,
            _size(a.raw_bytes),
            _size(a.stored_bytes),
            a.sha256[:16],
            ", ".join(f"{k}={v}" for k, v in a.position.items() if k not in ("files", "images")),
        ]
        for a in m.artifacts
    ]
    out.print(table(None, ["component", "kind", "file", "size", "stored", "sha256", "position"], rows))
    images = [
        [
            service,
            str(i.get("image", "")),
            str(i.get("id", ""))[:19],
            ", ".join(i.get("repo_digests") or ["-"]),
        ]
        for a in m.artifacts
        for service, i in sorted((a.position.get("images") or {}).items())
    ]
    if images:
        out.print(table("images that ran", ["service", "image", "id", "registry digests"], images))
    print_artifact_notes(out, m.artifacts)
    for f in m.failed:
        out.print(f"{mark('fail')} {f.component}: {f.error}")
    for c in detail.checks:
        out.print(
            f"{mark('ok' if c.ok else 'fail')} verified {'deep' if c.deep else 'sha256'}"
            f" at {c.to_dict()['at']}"
        )


@backup_app.command("verify")
def verify(
    ctx: typer.Context,
    backup_id: BackupId = "latest",
    deep: Annotated[bool, typer.Option("--deep", help="Restore into scratch targets and compare.")] = False,
    identity: Identity = None,
    json_out: Json = False,
) -> None:
    """Check every artifact's sha256; --deep also restores each and compares fingerprints (exit 1 if not)."""
    from seawall.backup import verify_backup

    result = verify_backup(options(ctx).stack(), backup_id, deep, identity=identity)
    if json_out:
        print_json(result.to_dict())
        raise typer.Exit(result.exit_code)
    out = console()
    out.print(f"{mark('ok' if result.manifest.checksum else 'warn')} manifest: {result.manifest.detail}")
    for c in result.checks:
        where = f" ({c.file})" if c.file else ""
        out.print(f"{mark('ok' if c.ok else 'fail')} {c.component}{where}: {c.detail}")
    out.print(f"backup {result.id}: {'ok' if result.ok else 'FAILED'}")
    raise typer.Exit(result.exit_code)


@backup_app.command("prune")
def prune(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go and why.")] = False,
    allow_remove_all: Annotated[
        bool,
        typer.Option(
            "--allow-remove-all", help="Remove even when the policy keeps no backup of a group (unsafe)."
        ),
    ] = False,
    json_out: Json = False,
) -> None:
    """Remove backups the retention policy (backup.retention) does not keep, group by group.

    Exit 2 if the policy would leave a group without any backup (refused; a dry run says so too),
    1 if some manifest cannot be read (that backup is kept, the others are pruned).
    """
    from seawall.backup import prune as run_prune
    from seawall.backup.prune import refusal

    result = run_prune(options(ctx).stack(), dry_run, allow_remove_all)
    if json_out:
        print_json(result.to_dict())
        raise typer.Exit(result.exit_code)
    out = console()
    gone = "would remove" if dry_run else "removed"
    rows = [
        [d.id, ", ".join(d.group), "keep" if d.keep else gone, ", ".join(d.reasons)] for d in result.decisions
    ]
    out.print(table(None, ["id", "group", "decision", "why"], rows, whole=("id",)))
    for backup_id, error in result.unreadable:
        out.print(f"{mark('fail')} {backup_id} kept: its manifest cannot be read ({error})")
    if not result.policy:
        out.print("[yellow]no retention policy: everything is kept[/]")
    if result.refused:
        out.print(f"{mark('fail')} {refusal(result.emptied).message} (dry run: prune would stop here)")
    raise typer.Exit(result.exit_code)


@backup_app.command("keygen")
def keygen(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the identity (0600).")
    ] = Path("seawall-backup.key"),
) -> None:
    """Create an age X25519 identity for encrypted backups; prints its public recipient."""
    from seawall.backup import keygen as make_key

    public = make_key(output)
    out = console()
    out.print(f"wrote {output} (keep it safe, and a copy away from the backups)")
    out.print(f"recipient: {public}")
    out.print(f"seawall.yaml:\n  backup:\n    encryption: {{identity_file: {output}}}")


def restore(
    ctx: typer.Context,
    backup_id: BackupId = "latest",
    component: Annotated[str | None, typer.Option("--component", "-c", help="Only this datastore.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Restore into this URL or path instead.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite existing data (a safety backup is taken first).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-n", help="Run every check; show what would be restored and stopped; write nothing."
        ),
    ] = False,
    identity: Identity = None,
    json_out: Json = False,
) -> None:
    """Restore a backup into its datastores (or --to elsewhere) and check the fingerprints; prints the RTO."""
    from seawall.backup import restore as run_restore

    opts = options(ctx)
    runtime = opts.runtime() if to is None else None
    if dry_run:
        _restore_plan(opts.stack(), backup_id, component, to, force, runtime, identity, json_out)
        return
    with _progress(not json_out) as progress:
        result = run_restore(opts.stack(), backup_id, component, to, force, runtime, progress, identity)
    if json_out:
        print_json(result.to_dict())
        return
    out = console()
    if result.safety_backup:
        out.print(
            f"safety backup of the overwritten data: {result.safety_backup} ({result.safety_seconds:.1f}s)"
        )
    for c in result.components:
        out.print(f"{mark('ok')} {c.component} -> {c.target} ({c.seconds:.1f}s, fingerprint matches)")
    if result.stopped:
        again = ", ".join(result.stopped)
        out.print(f"stopped and started again: {again} (ready after {result.restart_seconds:.1f}s)")
    if result.missing:
        lacking = ", ".join(result.missing)
        out.print(f"{mark('warn')} not restored, this backup lacks them (their backup failed): {lacking}")
    out.print(
        f"restored {result.id}; RTO {result.seconds:.1f}s"
        + (" (after the safety backup)" * bool(result.safety_backup))
    )


def _restore_plan(
    stack: StackConfig,
    backup_id: str,
    component: str | None,
    to: str | None,
    force: bool,
    runtime: Runtime | None,
    identity: Path | None,
    json_out: bool,
) -> None:
    """``restore --dry-run``: the plan, and the exit code the restore would have before writing."""
    from seawall.backup.restore_plan import plan_restore

    plan = plan_restore(stack, backup_id, component, to, force, runtime, identity)
    refusal = plan.refusal
    if json_out:
        print_json(plan.to_dict())
        raise typer.Exit(refusal.exit_code if refusal else 0)
    out = console()
    out.print(f"restore of {plan.id} (dry run: checksums and key checked, nothing written)")
    rows = [[t.component, t.target, _size(t.raw_bytes), _occupancy(t.occupied, force)] for t in plan.targets]
    out.print(table(None, ["component", "target", "size", "target now"], rows))
    if plan.stop:
        out.print(f"would stop, then start again and wait until ready: {', '.join(plan.stop)}")
    if plan.missing:
        lacking = ", ".join(plan.missing)
        out.print(f"{mark('warn')} not restorable, the backup lacks them (their backup failed): {lacking}")
    if refusal is not None:
        out.print(f"{mark('fail')} {refusal.message} ({refusal.hint})")
        raise typer.Exit(refusal.exit_code)


def _occupancy(occupied: bool, force: bool) -> str:
    if not occupied:
        return "empty"
    if force:
        return "has data: safety backup, then overwrite"
    return "has data: refused without --force"
