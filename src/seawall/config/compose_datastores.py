"""Datastores recognised from well-known compose images, with connection URLs built from their environment."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from seawall.config.compose_env import SecretBook, import_value, reference_name

StoreKind = Literal["postgres", "redis", "mysql", "s3"]


@dataclass(frozen=True)
class Image:
    """What a recognised image is: its datastore kind, its flavour, port and data directories."""

    kind: StoreKind
    flavour: Literal["official", "bitnami"]
    port: int
    data_dirs: tuple[str, ...]


_PG = ("/var/lib/postgresql/data", "/var/lib/postgresql")
_IMAGES: dict[str, Image] = {
    "postgres": Image("postgres", "official", 5432, _PG),
    "postgis/postgis": Image("postgres", "official", 5432, _PG),
    "timescale/timescaledb": Image("postgres", "official", 5432, _PG),
    "timescale/timescaledb-ha": Image("postgres", "official", 5432, ("/home/postgres/pgdata",)),
    "bitnami/postgresql": Image("postgres", "bitnami", 5432, ("/bitnami/postgresql",)),
    "redis": Image("redis", "official", 6379, ("/data",)),
    "valkey/valkey": Image("redis", "official", 6379, ("/data",)),
    "redis/redis-stack-server": Image("redis", "official", 6379, ("/data",)),
    "bitnami/redis": Image("redis", "bitnami", 6379, ("/bitnami/redis/data", "/bitnami/redis")),
    "bitnami/valkey": Image("redis", "bitnami", 6379, ("/bitnami/valkey/data", "/bitnami/valkey")),
    "mariadb": Image("mysql", "official", 3306, ("/var/lib/mysql",)),
    "mysql": Image("mysql", "official", 3306, ("/var/lib/mysql",)),
    "mysql/mysql-server": Image("mysql", "official", 3306, ("/var/lib/mysql",)),
    "bitnami/mariadb": Image("mysql", "bitnami", 3306, ("/bitnami/mariadb",)),
    "bitnami/mysql": Image("mysql", "bitnami", 3306, ("/bitnami/mysql",)),
    "minio/minio": Image("s3", "official", 9000, ("/data",)),
    "bitnami/minio": Image("s3", "bitnami", 9000, ("/bitnami/minio/data", "/bitnami/minio")),
}


def image_repository(image: str) -> str:
    """The repository of an image reference without registry, tag, digest or ``library/``."""
    name = image.strip().split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a tag, not a registry port
        name = name[:colon]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts).lower()


def recognise(image: str | None) -> Image | None:
    """The datastore an image runs, if it is one Seawall knows."""
    if not image:
        return None
    return _IMAGES.get(image_repository(image))


@dataclass(frozen=True)
class Mount:
    """One volume of a service: a named volume, a bind mount or an anonymous volume."""

    kind: Literal["volume", "bind", "anonymous"]
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Endpoint:
    """Where the host reaches a service port: host and port as URL text, port as a number if known."""

    host: str
    port: str
    number: int | None
    published: bool


@dataclass
class Datastore:
    """The datastore block of one component, its native probe and what the operator should know."""

    spec: dict[str, Any]
    probe: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)


def data_mount(
    image: Image, env: Mapping[str, str], argv: Sequence[str], mounts: Sequence[Mount]
) -> Mount | None:
    """The mount that holds the image's data directory, if any."""
    dirs = list(image.data_dirs)
    if image.kind == "postgres" and (pgdata := env.get("PGDATA")) and reference_name(pgdata) is None:
        dirs.insert(0, pgdata)
    if image.kind == "s3" and image.flavour == "official":
        dirs.insert(0, _minio_data_dir(argv))
    for directory in dirs:
        for mount in mounts:
            target = mount.target.rstrip("/") or "/"
            if directory == target or directory.startswith(target + "/"):
                return mount
    return None


def build_datastore(
    service: str,
    image: Image,
    *,
    env: Mapping[str, str],
    argv: Sequence[str],
    endpoint: Endpoint,
    mounts: Sequence[Mount],
    book: SecretBook,
) -> Datastore:
    """The datastore of a recognised service; ``env`` holds seawall.yaml values (secrets as ${VAR})."""
    spec: dict[str, Any] = {"kind": image.kind}
    store = Datastore(spec, None)
    where = f"{endpoint.host}:{endpoint.port}"
    if image.kind == "postgres":
        spec["url"] = _postgres_url(image, env, where, store.warnings, service)
        store.probe = {"postgres": spec["url"]}
    elif image.kind == "redis":
        spec["url"] = _redis_url(image, env, argv, where=where, service=service, book=book)
        store.probe = {"redis": spec["url"]}
    elif image.kind == "mysql":
        spec["url"] = _mysql_url(env, where, store.warnings, service)
        store.probe = {"mysql": spec["url"]}
    else:
        user = _pick(env, "MINIO_ROOT_USER", "MINIO_ACCESS_KEY")
        password = _pick(env, "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY")
        if user is None or password is None:
            store.warnings.append(
                f"service {service} (minio) runs with MinIO's default credentials minioadmin:minioadmin"
            )
        spec["url"] = f"http://{user or 'minioadmin'}:{password or 'minioadmin'}@{where}"
        buckets = env.get("MINIO_DEFAULT_BUCKETS", "")
        first = re.split(r"[,;\s]+", buckets.strip())[0].split(":")[0] if buckets.strip() else ""
        if first and "$" not in first:
            spec["bucket"] = first
        store.probe = {"http": f"http://{where}/minio/health/ready"}
    mount = data_mount(image, env, argv, mounts)
    if mount is not None and mount.kind == "volume":
        spec["volume"] = mount.source
    elif mount is None or mount.kind == "anonymous":
        store.warnings.append(
            f"service {service} ({image.kind}) keeps its data in no named volume or bind mount: "
            f"it is lost when the container is removed (`docker compose down -v`, a recreate); "
            f"mount a named volume at {image.data_dirs[0]}"
        )
    if not endpoint.published:
        store.warnings.append(
            f"service {service} ({image.kind}) publishes no port: its datastore url uses host "
            f"{endpoint.host!r}, which resolves only inside the compose network; publish the port "
            f'(e.g. "127.0.0.1:{image.port}:{image.port}") so backups and probes can reach it'
        )
        store.probe = None
    return store


def _pick(env: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` set to a non-empty value."""
    return next((env[n] for n in names if env.get(n)), None)


def _userinfo(user: str, password: str | None) -> str:
    return f"{user}:{password}@" if password else f"{user}@"


def _postgres_url(image: Image, env: Mapping[str, str], where: str, warnings: list[str], service: str) -> str:
    if image.flavour == "bitnami":
        user = _pick(env, "POSTGRESQL_USERNAME", "POSTGRES_USER") or "postgres"
        password = _pick(env, "POSTGRESQL_PASSWORD", "POSTGRES_PASSWORD")
        database = _pick(env, "POSTGRESQL_DATABASE", "POSTGRES_DB") or "postgres"
    else:
        user = _pick(env, "POSTGRES_USER") or "postgres"
        password = _pick(env, "POSTGRES_PASSWORD")
        database = _pick(env, "POSTGRES_DB") or user
    if password is None and _pick(env, "POSTGRES_PASSWORD_FILE", "POSTGRESQL_PASSWORD_FILE"):
        warnings.append(
            f"service {service} (postgres) reads its password from a file: add it to the datastore "
            f"url as ${{POSTGRES_PASSWORD}} and set that in .env"
        )
    return f"postgresql://{_userinfo(user, password)}{where}/{database}"


def _redis_url(
    image: Image, env: Mapping[str, str], argv: Sequence[str], *, where: str, service: str, book: SecretBook
) -> str:
    password = redis_password(argv, env, service, book)
    if password is None and image.flavour == "bitnami":
        password = _pick(env, "REDIS_PASSWORD", "VALKEY_PASSWORD")
    # no database number: the service is the stack's own server, backed up and restored whole
    return f"redis://{':' + password + '@' if password else ''}{where}"


def redis_password(argv: Sequence[str], env: Mapping[str, str], service: str, book: SecretBook) -> str | None:
    """The password given to redis-server, read from its argv or from a shell command line."""
    words = [w for arg in argv for w in arg.split()]
    for i, word in enumerate(words):
        value = None
        if word == "--requirepass" and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--requirepass="):
            value = word.partition("=")[2]
        if value is None:
            continue
        value = value.strip("'\"")
        container_var = re.fullmatch(r"\$\$\{?([A-Za-z_]\w*)\}?", value)
        if container_var:  # `$$NAME`: the container's own variable, already imported
            return env.get(container_var.group(1))
        return import_value("REDIS_PASSWORD", value, service, book)
    return None


def _mysql_url(env: Mapping[str, str], where: str, warnings: list[str], service: str) -> str:
    root = _pick(env, "MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD")
    root_user = _pick(env, "MARIADB_ROOT_USER") or "root"
    empty_root = any(
        (env.get(n) or "").lower() in ("1", "yes", "true")
        for n in ("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD", "ALLOW_EMPTY_PASSWORD")
    )
    user = _pick(env, "MARIADB_USER", "MYSQL_USER")
    password = _pick(env, "MARIADB_PASSWORD", "MYSQL_PASSWORD")
    database = _pick(env, "MARIADB_DATABASE", "MYSQL_DATABASE") or ""
    # root can dump every database, so backups prefer it when its password is known
    if root is not None:
        info = _userinfo(root_user, root)
    elif empty_root:
        info = _userinfo(root_user, None)
    elif user is not None:
        info = _userinfo(user, password)
    else:
        info = _userinfo(root_user, None)
        warnings.append(f"service {service} (mysql) has no user or root password in its environment")
    return f"mysql://{info}{where}/{database}"


def container_port(image: Image, argv: Sequence[str]) -> int:
    """The port the datastore serves inside its container (MinIO's may move with --address)."""
    if image.kind == "s3":
        address = _flag_value(_words(argv), "--address")
        if address and (port := address.rpartition(":")[2]).isdigit():
            return int(port)
    return image.port


def _words(argv: Sequence[str]) -> list[str]:
    return [w.strip("'\"") for arg in argv for w in arg.split()]


def _flag_value(words: list[str], flag: str) -> str | None:
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(flag + "="):
            return word.partition("=")[2]
    return None


def _minio_data_dir(argv: Sequence[str]) -> str:
    words = _words(argv)
    if "server" in words:
        rest = iter(words[words.index("server") + 1 :])
        for word in rest:
            if word.startswith("-"):
                if "=" not in word:
                    next(rest, None)  # the flag's value
                continue
            return re.sub(r"\{.*$", "", word).rstrip("/") or "/data"
    return "/data"
