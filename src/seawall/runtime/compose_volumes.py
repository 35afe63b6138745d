"""Persistent data of a compose project: stateful services without a named volume, and volume sizes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seawall.config.compose_datastores import Image, Mount, data_mount, image_repository, recognise
from seawall.config.compose_fields import argv_of, parse_volume
from seawall.errors import DaemonUnavailable
from seawall.runtime._engine_api import EngineApi

# stateful images that are not backup datastores (yet), with where they keep their data
_OTHER_STATEFUL: dict[str, tuple[str, ...]] = {
    "mongo": ("/data/db",),
    "bitnami/mongodb": ("/bitnami/mongodb",),
    "elasticsearch": ("/usr/share/elasticsearch/data",),
    "opensearchproject/opensearch": ("/usr/share/opensearch/data",),
    "rabbitmq": ("/var/lib/rabbitmq",),
    "influxdb": ("/var/lib/influxdb2", "/var/lib/influxdb"),
    "clickhouse/clickhouse-server": ("/var/lib/clickhouse",),
    "neo4j": ("/data",),
    "cassandra": ("/var/lib/cassandra",),
    "couchdb": ("/opt/couchdb/data",),
    "etcd": ("/etcd-data",),
    "quay.io/coreos/etcd": ("/etcd-data",),
}


def _environment(spec: Mapping[str, Any]) -> dict[str, str]:
    env = spec.get("environment")
    if isinstance(env, Mapping):
        return {str(k): str(v) for k, v in env.items() if v is not None}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {k: v for k, sep, v in pairs if sep}
    return {}


def _stateful(image: str) -> Image | None:
    known = recognise(image)
    if known is not None:
        return known
    dirs = _OTHER_STATEFUL.get(image_repository(image))
    # the kind only matters for the datastores' own rules (PGDATA, minio's argv): any will do
    return Image("redis", "official", 0, dirs) if dirs else None


def volume_warnings(compose_data: Mapping[str, Any]) -> list[str]:
    """Warnings for stateful services (by image) whose data lives in an anonymous volume or in none.

    Pure: ``compose_data`` is the parsed compose file. Data outside a named volume or a bind
    mount is lost when the container is removed, or with `down -v` / a volume prune.
    """
    out: list[str] = []
    services = compose_data.get("services")
    if not isinstance(services, Mapping):
        return out
    for name, spec in services.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("image"), str):
            continue
        image = _stateful(str(spec["image"]))
        if image is None:
            continue
        mounts: list[Mount] = []
        for entry in spec.get("volumes") or []:
            try:
                mount = parse_volume(entry)
            except ValueError:
                continue  # the compose import reports malformed entries with file and line
            if mount is not None:
                mounts.append(mount)
        try:
            argv = argv_of(spec.get("entrypoint"), "entrypoint") + argv_of(spec.get("command"), "command")
        except ValueError:
            argv = []
        held = data_mount(image, _environment(spec), argv, mounts)
        where = image.data_dirs[0] if image.data_dirs else "its data directory"
        if held is None:
            out.append(
                f"service {name} ({spec['image']}) keeps its data in the container "
                f"({where} is not a volume): removing the container loses it; mount a named volume there"
            )
        elif held.kind == "anonymous":
            out.append(
                f"service {name} ({spec['image']}) keeps its data in an anonymous volume ({held.target}): "
                "`down -v` or a volume prune loses it; give the volume a name"
            )
    return out


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for file in files:
            try:
                total += (Path(root) / file).lstat().st_size
            except OSError:
                continue
    return total


def volume_sizes(project: str, api: EngineApi | None = None) -> list[tuple[str, int]]:
    """Each named volume of a compose project and the bytes it holds (-1: the engine cannot tell).

    The engine's disk-usage report gives the sizes; where it has none and the volume's mountpoint
    is on this machine, the files there are added up.
    """
    engine = api or EngineApi()
    volumes = engine.volumes(project)
    try:
        usage = engine.volume_usage() if volumes else {}
    except DaemonUnavailable:
        # the engine's disk-usage walk fails when any container vanishes meanwhile; measure locally
        usage = {}
    out: list[tuple[str, int]] = []
    for volume in sorted(volumes, key=lambda v: str(v.get("Name"))):
        name = str(volume.get("Name"))
        size = usage.get(name, -1)
        mountpoint = Path(str(volume.get("Mountpoint") or ""))
        if size < 0 and mountpoint.is_absolute() and mountpoint.is_dir():
            size = _du(mountpoint)
        out.append((name, size))
    return out
