"""`seawall storage`: data per datastore, free disk where it lives, and the backup repository (RPO now)."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pymysql
import redis
import redis.exceptions as rex
from redis.backoff import NoBackoff
from redis.retry import Retry

from seawall.config import DatastoreSpec, StackConfig
from seawall.errors import ConfigError, SeawallError
from seawall.ops._datastores import (
    close_quietly,
    describe_mysql_error,
    describe_pg_error,
    describe_redis_error,
    mysql_connect,
    pg_connect,
)
from seawall.ops._disk import DiskSpace, data_places, disks_for
from seawall.probes.mysql import MysqlTarget
from seawall.probes.outcome import shorten
from seawall.probes.redact import redact_url

if TYPE_CHECKING:  # seawall.backup is imported only by the commands that read backups (start-up time)
    from seawall.backup.rpo import DatastoreRpo

TIMEOUT = 5.0
S3_PENDING = "not measured yet (S3 support arrives with the backup issue)"


@dataclass(frozen=True, slots=True)
class DatastoreSize:
    """One datastore's size; ``error`` says why it could not be measured (then size is None)."""

    component: str
    kind: str
    location: str
    size_bytes: int | None
    detail: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "component": self.component,
            "kind": self.kind,
            "location": self.location,
            "size_bytes": self.size_bytes,
            "detail": self.detail,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    """The stack's backup repository: size, backups, the newest verified one, and the RPO now.

    ``datastores`` holds each datastore's RPO; the stack's (``rpo_seconds``, ``rpo_component``) is
    the worst of them, None when some datastore has no verified backup.
    """

    location: str
    size_bytes: int | None
    backups: int
    newest: str | None = None
    newest_verified: str | None = None
    rpo_seconds: float | None = None
    rpo_objective: float | None = None
    error: str | None = None
    datastores: tuple[DatastoreRpo, ...] = ()
    rpo_component: str | None = None

    @property
    def over_objective(self) -> bool:
        """Whether the RPO now is worse than the objective (no verified backup counts as worse)."""
        if self.rpo_objective is None:
            return False
        return self.rpo_seconds is None or self.rpo_seconds > self.rpo_objective

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "location": self.location,
            "size_bytes": self.size_bytes,
            "backups": self.backups,
            "newest": self.newest,
            "newest_verified": self.newest_verified,
            "rpo_seconds": None if self.rpo_seconds is None else round(self.rpo_seconds, 1),
            "rpo_component": self.rpo_component,
            "rpo_objective_seconds": self.rpo_objective,
            "over_objective": self.over_objective,
            "datastores": [d.to_dict() for d in self.datastores],
            "error": self.error,
        }


@dataclass(frozen=True)
class StorageReport:
    """Sizes of every datastore of a stack and the free space of the filesystems holding local data."""

    stack: str
    datastores: list[DatastoreSize] = field(default_factory=list)
    disks: list[DiskSpace] = field(default_factory=list)
    volumes: list[tuple[str, int]] = field(default_factory=list)  # compose: (volume, bytes; -1 unknown)
    volume_error: str | None = None
    repository: RepositoryUsage | None = None

    @property
    def total_bytes(self) -> int:
        """The sum of every measured datastore."""
        return sum(d.size_bytes or 0 for d in self.datastores)

    @property
    def errors(self) -> list[DatastoreSize]:
        """Datastores that could not be measured."""
        return [d for d in self.datastores if d.error is not None]

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "stack": self.stack,
            "total_bytes": self.total_bytes,
            "datastores": [d.to_dict() for d in self.datastores],
            "disks": [d.to_dict() for d in self.disks],
            "volumes": [{"name": n, "bytes": None if b < 0 else b} for n, b in self.volumes],
            "volume_error": self.volume_error,
            "repository": None if self.repository is None else self.repository.to_dict(),
        }


def measure_storage(stack: StackConfig, timeout: float = TIMEOUT) -> StorageReport:
    """Measure every datastore at once (a server that is down costs one timeout, not one each)."""
    stores = [(name, c.datastore) for name, c in stack.components.items() if c.datastore is not None]
    with ThreadPoolExecutor(max_workers=max(1, len(stores))) as pool:
        futures = [pool.submit(measure_datastore, stack, name, spec, timeout) for name, spec in stores]
        sizes = [f.result() for f in futures]
    volumes, volume_error = _volumes(stack)
    return StorageReport(
        stack.stack, sizes, disks_for(data_places(stack)), volumes, volume_error, measure_repository(stack)
    )


def measure_repository(stack: StackConfig) -> RepositoryUsage:
    """The repository's size and backups from its listing and the catalog (no artifact is read)."""
    from seawall.backup import list_backups
    from seawall.backup.repository import open_repository
    from seawall.backup.rpo import DatastoreRpo, backed_up_datastores

    objective = stack.objectives.rpo
    location = redact_url(stack.backup.repository)
    unknown = tuple(DatastoreRpo(c) for c in backed_up_datastores(stack))
    worst_unknown = unknown[0].component if unknown else None
    try:
        repo = open_repository(stack)
        location = repo.location
        size = repo.usage(stack.stack)
        if not repo.backup_ids(stack.stack):
            # nothing backed up: no need to create a state store to read an empty catalog
            return RepositoryUsage(
                location, size, 0, rpo_objective=objective, datastores=unknown, rpo_component=worst_unknown
            )
        listing = list_backups(stack)
    except SeawallError as exc:
        return RepositoryUsage(location, None, 0, rpo_objective=objective, error=exc.message)
    except OSError as exc:
        return RepositoryUsage(location, None, 0, rpo_objective=objective, error=str(exc.strerror or exc))
    newest = listing.backups[-1].entry.id if listing.backups else None
    figure = listing.rpo_worst
    return RepositoryUsage(
        location,
        size,
        len(listing.backups),
        newest,
        listing.newest_verified,
        listing.rpo_seconds,
        objective,
        "; ".join(listing.errors) or None,
        listing.rpo,
        None if figure is None else figure.component,
    )


def _volumes(stack: StackConfig) -> tuple[list[tuple[str, int]], str | None]:
    """A compose stack's named volumes and their sizes, from the engine."""
    if stack.runtime != "compose":
        return [], None
    from seawall.runtime import ComposeRuntime
    from seawall.runtime.compose_volumes import volume_sizes

    try:
        return volume_sizes(ComposeRuntime(stack).project), None
    except SeawallError as exc:
        return [], exc.message


def measure_datastore(
    stack: StackConfig, component: str, spec: DatastoreSpec, timeout: float
) -> DatastoreSize:
    """One datastore's size; every failure becomes the row's error."""
    location = redact_url(spec.url) if spec.url else str(stack.resolve(spec.path or "."))
    try:
        size, detail = _MEASURE[spec.kind](stack, spec, timeout)
    except _Unmeasurable as exc:
        return DatastoreSize(component, spec.kind, location, None, error=str(exc))
    return DatastoreSize(component, spec.kind, location, size, detail)


class _Unmeasurable(Exception):
    """Why a datastore could not be measured (becomes the row's error)."""


def _postgres(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    url = spec.url or ""
    query = (
        b"SELECT current_database(), pg_database_size(current_database()),"
        b" (SELECT count(*) FROM information_schema.tables"
        b"  WHERE table_schema NOT IN ('pg_catalog', 'information_schema'))"
    )
    try:
        with pg_connect(url, timeout) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:
        raise _Unmeasurable(describe_pg_error(exc, url)) from exc
    assert row is not None
    name, size, tables = row
    return int(str(size)), f"database {name}, {_count(int(str(tables)), 'table')}"


def _mysql(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    url = spec.url or ""
    try:
        schema = MysqlTarget.from_url(url).database
    except ConfigError as exc:
        raise _Unmeasurable(exc.message) from exc
    if schema is None:
        raise _Unmeasurable("the URL names no database, so there is no schema to measure")
    query = (
        "SELECT COALESCE(SUM(data_length + index_length), 0), COUNT(*)"
        " FROM information_schema.tables WHERE table_schema = %s"
    )
    try:
        conn = mysql_connect(url, timeout)
        try:
            with conn.cursor() as cursor:
                cursor.execute(query, (schema,))
                row = cursor.fetchone()
        finally:
            close_quietly(conn)
    except pymysql.MySQLError as exc:
        raise _Unmeasurable(describe_mysql_error(exc, url, timeout)) from exc
    assert row is not None
    return int(row[0]), f"schema {schema}, {_count(int(row[1]), 'table')}"


def _redis(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    url = spec.url or ""
    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        memory = client.info("memory")
        keys = int(client.dbsize())
        db = int(client.connection_pool.connection_kwargs.get("db", 0))
    except rex.RedisError as exc:
        raise _Unmeasurable(describe_redis_error(exc, url, timeout)) from exc
    finally:
        client.close()
    # Redis accounts memory per server, not per database: say so rather than imply otherwise
    return int(memory["used_memory"]), f"{_count(keys, 'key')} in db {db}; memory is the whole server's"


def _sqlite(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    path = stack.resolve(spec.path or "")
    if not path.is_file():
        raise _Unmeasurable(f"file not found: {path}")
    size = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            size += os.stat(f"{path}{suffix}").st_size
        except FileNotFoundError:
            continue  # no WAL or shared memory file: the database is not in WAL mode or is closed
        except OSError as exc:
            raise _Unmeasurable(shorten(f"cannot read {path}{suffix}: {exc.strerror or exc}")) from exc
    try:
        # read-only, so measuring never creates or changes the database
        uri = f"{path.as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as conn:
            (tables,) = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    except sqlite3.Error as exc:
        return size, shorten(f"could not count tables: {exc}")
    return size, _count(int(tables), "table")


def _files(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    root = stack.resolve(spec.path or "")
    if not root.is_dir():
        raise _Unmeasurable(f"directory not found: {root}")
    total, files, excluded, unreadable = walk_size(root, spec.exclude)
    parts = [_count(files, "file")]
    if excluded:
        parts.append(f"{excluded} excluded")
    if unreadable:
        parts.append(f"{unreadable} unreadable")
    return total, ", ".join(parts)


def walk_size(root: Path, exclude: Sequence[str] = ()) -> tuple[int, int, int, int]:
    """(bytes, files, excluded entries, unreadable entries) under ``root``; symlinks are not followed."""
    total = files = excluded = unreadable = 0
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            unreadable += 1
            continue
        for entry in entries:
            relative = Path(entry.path).relative_to(root).as_posix()
            if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(entry.name, p) for p in exclude):
                excluded += 1
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                total += entry.stat(follow_symlinks=False).st_size
                files += 1
            except OSError:
                unreadable += 1
    return total, files, excluded, unreadable


def _s3(stack: StackConfig, spec: DatastoreSpec, timeout: float) -> tuple[int | None, str]:
    return None, S3_PENDING


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


_MEASURE = {
    "postgres": _postgres,
    "mysql": _mysql,
    "redis": _redis,
    "sqlite": _sqlite,
    "files": _files,
    "s3": _s3,
}
