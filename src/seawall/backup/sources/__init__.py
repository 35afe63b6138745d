"""Datastores behind one interface, and the registry that maps a datastore kind to its driver."""

from __future__ import annotations

from seawall.backup.sources._redis_client import scope as redis_scope
from seawall.backup.sources._redis_client import scoped as redis_scoped
from seawall.backup.sources.base import (
    SERVER_KINDS,
    ContainerEngine,
    Datastore,
    Dump,
    DumpInfo,
    InContainer,
    Target,
)
from seawall.backup.sources.config import COMPONENT as CONFIG_COMPONENT
from seawall.backup.sources.config import ConfigDatastore, config_target
from seawall.backup.sources.container_files import ContainerFilesDatastore
from seawall.backup.sources.container_postgres import ContainerPostgresDatastore
from seawall.backup.sources.files import FilesDatastore, HostileMember
from seawall.backup.sources.mysql import MysqlDatastore
from seawall.backup.sources.postgres import PostgresDatastore
from seawall.backup.sources.redis import RedisDatastore
from seawall.backup.sources.sqlite import SqliteDatastore
from seawall.errors import UsageError

DATASTORES: dict[str, Datastore] = {
    "postgres": PostgresDatastore(),
    "redis": RedisDatastore(),
    "mysql": MysqlDatastore(),
    "sqlite": SqliteDatastore(),
    "files": FilesDatastore(),
    "config": ConfigDatastore(),
}

# the same kinds, reached through the container engine (compose runtime): same artifacts, same fingerprints
IN_CONTAINER: dict[str, Datastore] = {
    "postgres": ContainerPostgresDatastore(),
    "files": ContainerFilesDatastore(),
}


def get_datastore(kind: str) -> Datastore:
    """The driver of one datastore kind (UsageError for kinds not backed up yet, such as s3)."""
    try:
        return DATASTORES[kind]
    except KeyError:
        raise UsageError(f"backing up {kind!r} datastores is not supported yet") from None


def datastore_for(target: Target) -> Datastore:
    """The driver for one target: its kind's, or the in-container variant for a target in a container."""
    if target.container is not None and target.kind in IN_CONTAINER:
        return IN_CONTAINER[target.kind]
    return get_datastore(target.kind)


__all__ = [
    "CONFIG_COMPONENT",
    "DATASTORES",
    "IN_CONTAINER",
    "SERVER_KINDS",
    "ContainerEngine",
    "Datastore",
    "Dump",
    "DumpInfo",
    "HostileMember",
    "InContainer",
    "Target",
    "config_target",
    "datastore_for",
    "get_datastore",
    "redis_scope",
    "redis_scoped",
]
