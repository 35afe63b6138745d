"""`seawall destroy`: list what goes, take a full backup first, stop everything, remove the data."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import pymysql
import redis
import redis.exceptions as rex
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from redis.backoff import NoBackoff
from redis.retry import Retry

from seawall import clock
from seawall.backup.sources import SERVER_KINDS, redis_scope
from seawall.config import DatastoreSpec, StackConfig
from seawall.errors import ConfigError, ConfirmationRefused, OperationError
from seawall.ops._datastores import (
    close_quietly,
    describe_mysql_error,
    describe_pg_error,
    describe_redis_error,
    mysql_table,
    pg_connect,
)
from seawall.ops.lifecycle import Progress, down, is_managed
from seawall.probes.mysql import MysqlTarget
from seawall.probes.redact import redact_url
from seawall.runtime import Runtime, shutdown
from seawall.store import open_store

TIMEOUT = 30.0


def _quiet(component: str, message: str) -> None:
    """Default progress sink: say nothing."""


@dataclass(frozen=True, slots=True)
class DataItem:
    """One datastore's data and what destroy does to it (``action`` empty: it is kept, ``note`` says why)."""

    component: str
    kind: str
    location: str  # a path, or the URL without its password
    action: str
    note: str = ""
    paths: tuple[str, ...] = ()  # sqlite: the database and its -wal/-shm/-journal files that exist

    @property
    def removed(self) -> bool:
        """Whether destroy removes this data."""
        return bool(self.action)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {**asdict(self), "paths": list(self.paths)}


@dataclass(frozen=True, slots=True)
class DestroyPlan:
    """What ``destroy`` would do: the components it stops, the data it removes, what it keeps."""

    stack: str
    stopped: tuple[str, ...]  # components the runtime runs (they are stopped)
    unmanaged: tuple[str, ...]  # components the stack does not run (left alone)
    data: tuple[DataItem, ...]
    kept: tuple[tuple[str, str], ...]  # (path, why) of what survives on purpose

    @property
    def removals(self) -> list[DataItem]:
        """The data that is removed."""
        return [d for d in self.data if d.removed]

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "stack": self.stack,
            "stopped": list(self.stopped),
            "unmanaged": list(self.unmanaged),
            "data": [d.to_dict() for d in self.data],
            "kept": [{"path": p, "why": why} for p, why in self.kept],
        }


@dataclass(frozen=True, slots=True)
class Removal:
    """What happened to one datastore's data."""

    component: str
    kind: str
    location: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class DestroyResult:
    """The outcome of ``destroy``: the backup taken first, what was stopped, each removal."""

    plan: DestroyPlan
    backup_id: str | None
    removals: list[Removal] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every removal succeeded."""
        return all(r.ok for r in self.removals)

    @property
    def exit_code(self) -> int:
        """0 when all the data is gone, else 1."""
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "stack": self.plan.stack,
            "ok": self.ok,
            "backup_id": self.backup_id,
            "seconds": round(self.seconds, 3),
            "stopped": list(self.plan.stopped),
            "removals": [r.to_dict() for r in self.removals],
            "kept": [{"path": p, "why": why} for p, why in self.plan.kept],
        }


def _kept_paths(stack: StackConfig) -> list[tuple[str, str]]:
    kept = [(str(stack.state_dir), "state directory: the backup catalog and the event log")]
    if "://" in stack.backup.repository:
        kept.append((redact_url(stack.backup.repository), "backup repository"))
    else:
        kept.append((str(stack.resolve(stack.backup.repository)), "backup repository"))
    if stack.source is not None:
        kept.append((str(stack.source), "stack file"))
    for name in (".env", stack.compose_file):
        if name and stack.resolve(name).exists():
            kept.append((str(stack.resolve(name)), "stack configuration"))
    return kept


def _protected(stack: StackConfig) -> list[Path]:
    """Paths a data directory may contain that destroy must never remove."""
    return [Path(p) for p, _ in _kept_paths(stack) if "://" not in p]


def _sqlite_files(path: Path) -> list[Path]:
    """A SQLite database and the companions that may hold its committed data."""
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]


def _item(stack: StackConfig, name: str, spec: DatastoreSpec) -> DataItem:
    if spec.kind in SERVER_KINDS:
        url = spec.url or ""
        where = redact_url(url)
        try:
            return DataItem(name, spec.kind, where, *_server_action(spec.kind, url))
        except (ConfigError, psycopg.Error, ValueError) as exc:
            return DataItem(name, spec.kind, where, "", f"kept: cannot read the URL: {exc}")
    if spec.kind == "s3":
        return DataItem(name, "s3", spec.url or "", "", "kept: S3 buckets are neither backed up nor removed")
    path = stack.resolve(spec.path or "")
    if spec.kind == "sqlite":
        files = tuple(str(p) for p in _sqlite_files(path) if p.exists())
        if path in _protected(stack):
            return DataItem(name, "sqlite", str(path), "", "kept: it is part of the stack's configuration")
        return DataItem(name, "sqlite", str(path), "delete the database file" if files else "", "", files)
    if stack.root.resolve().is_relative_to(path):
        note = "kept: the directory holds the stack directory; remove its data by hand"
        return DataItem(name, "files", str(path), "", note)
    note = "excluded paths are not in the backup and are removed too" if spec.exclude else ""
    if not path.is_dir() or not any(path.iterdir()):
        return DataItem(name, "files", str(path), "", "already empty")
    return DataItem(name, "files", str(path), "empty the directory", note)


def _server_action(kind: str, url: str) -> tuple[str, str]:
    if kind == "postgres":
        db = conninfo_to_dict(url).get("dbname")
        if not db:
            return "", "kept: the URL names no database"
        return f"DROP DATABASE {db}", ""
    if kind == "mysql":
        schema = MysqlTarget.from_url(url).database
        if not schema:
            return "", "kept: the URL names no database"
        return f"DROP DATABASE {schema}", ""
    db = redis_scope(url)
    if db is None:  # the datastore is the whole server, as its backups are
        return "FLUSHALL (every key of every logical database)", ""
    return f"FLUSHDB (every key of db {db})", ""


def plan_destroy(stack: StackConfig) -> DestroyPlan:
    """What ``destroy`` would stop, remove and keep; reads nothing but the file system."""
    stopped = tuple(n for n in stack.components if is_managed(stack, n))
    unmanaged = tuple(n for n in stack.components if n not in stopped)
    data = tuple(
        _item(stack, name, comp.datastore)
        for name, comp in stack.components.items()
        if comp.datastore is not None
    )
    return DestroyPlan(stack.stack, stopped, unmanaged, data, tuple(_kept_paths(stack)))


def destroy(
    stack: StackConfig,
    runtime: Runtime,
    *,
    confirmed: bool,
    skip_backup: bool = False,
    progress: Progress = _quiet,
) -> DestroyResult:
    """Back up every datastore, stop the stack, then remove its data (the state and backups stay).

    Nothing is touched unless ``confirmed``, and nothing is removed when the backup fails.
    Components serving a database (a postgres, mysql or redis datastore run by the stack) are
    stopped after their data is removed, since dropping a database needs its server.
    """
    if not confirmed:
        raise ConfirmationRefused(f"destroying stack {stack.stack} was not confirmed; nothing was touched")
    t0 = clock.monotonic()
    plan = plan_destroy(stack)
    backup_id = None if skip_backup else _backup_first(stack, progress)
    servers = [n for n in plan.stopped if any(d.component == n and d.kind in SERVER_KINDS for d in plan.data)]
    others = [n for n in plan.stopped if n not in servers]
    if others:
        down(stack, runtime, others, progress)
    with open_store(stack.state_dir) as store:
        removals = []
        for item in plan.removals:
            progress(item.component, item.action)
            removal = remove_item(stack, item)
            removals.append(removal)
            store.record(
                "data_removed", item.component, datastore=item.kind, ok=removal.ok, detail=removal.detail
            )
        if servers:
            down(stack, runtime, servers, progress)
        shutdown(stack)
        store.record(
            "destroy",
            None,
            backup=backup_id,
            removed=[r.component for r in removals if r.ok],
            failed=[r.component for r in removals if not r.ok],
        )
    return DestroyResult(plan, backup_id, removals, clock.monotonic() - t0)


def _backup_first(stack: StackConfig, progress: Progress) -> str:
    """A full backup whose checksums are verified; OperationError (nothing removed) if it fails."""
    from seawall.backup import create_backup, verify_backup

    progress("backup", "taking a full backup")
    result = create_backup(stack, tags=("pre-destroy",))
    if result.exit_code != 0:
        failed = ", ".join(f"{f.component} ({f.error})" for f in result.failed) or "nothing was written"
        _record_abort(stack, result.id, [f.component for f in result.failed])
        raise OperationError(
            f"the backup before destroy failed: {failed}; nothing was stopped or removed",
            hint="fix the failing datastore, or pass --no-backup to destroy without a backup",
        )
    check = verify_backup(stack, result.id)
    if not check.ok:
        bad = [c.component for c in check.checks if not c.ok]
        _record_abort(stack, result.id, bad)
        raise OperationError(
            f"the backup before destroy ({result.id}) does not verify: {', '.join(bad)};"
            " nothing was stopped or removed"
        )
    progress("backup", f"backup {result.id} taken and verified")
    return result.id


def _record_abort(stack: StackConfig, backup_id: str, failed: list[str]) -> None:
    with open_store(stack.state_dir) as store:
        store.record("destroy_aborted", None, backup=backup_id, failed=failed)


def remove_item(stack: StackConfig, item: DataItem) -> Removal:
    """Remove one datastore's data (also the drill's simulated disaster); failures are reported."""

    def done(ok: bool, detail: str) -> Removal:
        return Removal(item.component, item.kind, item.location, ok, detail)

    spec = stack.components[item.component].datastore
    assert spec is not None
    try:
        if item.kind == "sqlite":
            # every companion, not only those the plan saw: the backup itself may have made a -wal
            gone = [p for p in _sqlite_files(Path(item.location)) if p.exists()]
            for path in gone:
                path.unlink(missing_ok=True)
            return done(True, f"deleted {', '.join(p.name for p in gone)}")
        if item.kind == "files":
            count = _empty(Path(item.location), _protected(stack))
            return done(True, f"removed {count} entr{'y' if count == 1 else 'ies'}")
        url = spec.url or ""
        if item.kind == "postgres":
            return done(True, _drop_postgres(url))
        if item.kind == "mysql":
            return done(True, _drop_mysql(url))
        return done(True, _flush_redis(url))
    except OSError as exc:
        return done(False, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except psycopg.Error as exc:
        return done(False, describe_pg_error(exc, spec.url or ""))
    except pymysql.MySQLError as exc:
        return done(False, describe_mysql_error(exc, spec.url or "", TIMEOUT))
    except rex.RedisError as exc:
        return done(False, describe_redis_error(exc, spec.url or "", TIMEOUT))


def _empty(root: Path, protected: list[Path]) -> int:
    """Remove everything inside ``root`` except protected paths (and the directories leading to them)."""
    count = 0
    for entry in sorted(root.iterdir()):
        if entry in protected:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if any(p.is_relative_to(entry) for p in protected):
                count += _empty(entry, protected)
                continue
            shutil.rmtree(entry)
        else:
            entry.unlink()
        count += 1
    return count


def _drop_postgres(url: str) -> str:
    name = str(conninfo_to_dict(url)["dbname"])
    # connect to a maintenance database: one cannot drop the database one is connected to
    maintenance = "template1" if name == "postgres" else "postgres"
    with pg_connect(make_conninfo(url, dbname=maintenance), TIMEOUT) as admin:
        version = int(str(admin.execute("SHOW server_version_num").fetchone()[0]))  # type: ignore[index]
        ident = sql.Identifier(name)
        if version >= 130000:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        else:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
    return f"dropped database {name}"


def _drop_mysql(url: str) -> str:
    t = MysqlTarget.from_url(url)
    assert t.database is not None
    conn = t.connect(TIMEOUT, database=False, autocommit=True)  # one cannot drop the database in use
    try:
        with conn.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS " + mysql_table(t.database))
    finally:
        close_quietly(conn)
    return f"dropped database {t.database}"


def _flush_redis(url: str) -> str:
    client = redis.Redis.from_url(
        url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
    )
    try:
        db = redis_scope(url)
        if db is None:
            keyspace: dict[str, dict[str, int]] = client.info("keyspace")
            keys = sum(int(entry.get("keys", 0)) for entry in keyspace.values())
            client.flushall()
        else:
            keys = int(client.dbsize())
            client.flushdb()
    finally:
        client.close()
    where = "the server" if db is None else f"db {db}"
    return f"flushed {where} ({keys} key{'s' * (keys != 1)})"


__all__ = ["DataItem", "DestroyPlan", "DestroyResult", "Removal", "destroy", "plan_destroy", "remove_item"]
