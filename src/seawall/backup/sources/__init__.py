"""Datastores behind one interface, and the registry that maps a datastore kind to its driver."""

from __future__ import annotations

from seawall.backup.sources.base import Datastore, Dump, DumpInfo, Target
from seawall.backup.sources.config import COMPONENT as CONFIG_COMPONENT
from seawall.backup.sources.config import ConfigDatastore, config_target
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


def get_datastore(kind: str) -> Datastore:
    """The driver of one datastore kind (UsageError for kinds not backed up yet, such as s3)."""
    try:
        return DATASTORES[kind]
    except KeyError:
        raise UsageError(f"backing up {kind!r} datastores is not supported yet") from None


__all__ = [
    "CONFIG_COMPONENT",
    "DATASTORES",
    "Datastore",
    "Dump",
    "DumpInfo",
    "HostileMember",
    "Target",
    "config_target",
    "get_datastore",
]
