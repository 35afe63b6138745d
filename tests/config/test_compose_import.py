"""`seawall init --from`: compose files of several shapes mapped to a valid seawall.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from seawall.config import StackConfig, load_stack
from seawall.config.compose_env import SecretBook, import_value, is_secret_name, required_variables
from seawall.config.compose_fields import go_duration, parse_port, parse_volume
from seawall.config.compose_import import ComposeImport, import_compose
from seawall.errors import ConfigError

HERE = Path(__file__).parent / "compose"
SECRETS = {
    "web_pg_redis/compose.yaml": ["changeme-now", "r3dis-pass-123", "dj-insecure-5f2a9c77e1"],
    "wordpress/docker-compose.yml": ["somewordpress-root", "wp-db-s3cret"],
    "minio_profiles/compose.yml": ["minio-s3cret-pw", "uploader-admin"],
    "env_files/compose.yaml": ["tok-abc-1234567890", "dotenv-pg-pw"],
    "migrations/compose.yaml": ["pg-migr-s3cret"],
    "resources/compose.yaml": ["bitnami-redis-pw"],
}


def imported(name: str, **kwargs: Any) -> tuple[ComposeImport, StackConfig]:
    result = import_compose(HERE / name, **kwargs)
    return result, StackConfig.model_validate(result.data)


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_compose_import_rendered_file_loads_and_hides_secrets(name: str, tmp_path: Path) -> None:
    """Every fixture renders to YAML that parses back to the data, loads, and holds no literal secret."""
    result = import_compose(HERE / name, profiles=["*"])
    text = result.render()
    assert yaml.safe_load(text) == result.data
    for secret in SECRETS[name]:
        assert secret not in text
    (tmp_path / "seawall.yaml").write_text(text)
    environ = dict.fromkeys(required_variables(result.data), "x")  # the .env stays beside the compose file
    stack = load_stack(tmp_path / "seawall.yaml", environ=environ)
    assert stack.runtime == "compose"
    assert set(stack.components) == set(result.data["components"])


def test_compose_import_web_postgres_redis() -> None:
    """Long-syntax depends_on, healthchecks and datastores of a web + postgres + redis app."""
    result, stack = imported("web_pg_redis/compose.yaml")
    assert stack.stack == "shop"
    assert stack.compose_file == "compose.yaml"
    web, db, cache = (stack.components[n] for n in ("web", "db", "cache"))
    assert {k: v.condition for k, v in web.depends_on.items()} == {"db": "ready", "cache": "started"}
    assert web.command == ["gunicorn", "shop.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
    assert web.env["SECRET_KEY"] == "${SECRET_KEY}"
    assert web.env["DEBUG"] == "false"
    assert web.env["DATABASE_URL"] == "postgres://shop:${DB_PASSWORD}@db:5432/shop"
    assert web.edges == {"db": "DATABASE_URL", "cache": "REDIS_URL"}
    assert web.restart.policy == "always"
    assert web.restart.max_retries is None
    assert web.probes.ready is not None
    assert web.probes.ready.tcp is not None
    assert web.probes.ready.tcp.port == 8000
    assert web.probes.ready.period == 10.0
    assert db.datastore is not None
    assert db.datastore.url == "postgresql://shop:${DB_PASSWORD}@127.0.0.1:5432/shop"
    assert db.datastore.volume == "pgdata"
    assert db.env["POSTGRES_PASSWORD"] == "${DB_PASSWORD}"  # the literal default is dropped
    ready = db.probes.ready
    assert ready is not None
    assert ready.postgres is not None
    assert (ready.period, ready.timeout, ready.initial_delay, ready.failure_threshold) == (5, 3, 10, 10)
    assert cache.datastore is not None
    assert cache.datastore.url == "redis://:${REDIS_PASSWORD}@127.0.0.1:6379"
    assert cache.command == ["redis-server", "--appendonly", "yes", "--requirepass", "${REDIS_PASSWORD}"]
    assert web.env["REDIS_URL"] == "redis://:${REDIS_PASSWORD}@cache:6379/0"
    assert result.variables == ["DB_PASSWORD", "REDIS_PASSWORD", "SECRET_KEY"]
    assert not result.warnings


def test_compose_import_wordpress_mariadb_short_syntax() -> None:
    """Environment lists, short depends_on, and a datastore that publishes no port."""
    result, stack = imported("wordpress/docker-compose.yml")
    db, wp = stack.components["db"], stack.components["wordpress"]
    assert db.datastore is not None
    assert db.datastore.kind == "mysql"
    assert db.datastore.url == "mysql://root:${MYSQL_ROOT_PASSWORD}@db:3306/wordpress"
    assert db.datastore.volume == "db_data"
    assert any("db (mysql) publishes no port" in w for w in result.warnings)
    ready = db.probes.ready
    assert ready is not None
    assert ready.command is not None
    assert ready.command.argv == [
        "docker", "compose", "-f", "docker-compose.yml", "exec", "-T", "db",
        "healthcheck.sh", "--connect", "--innodb_initialized",
    ]  # fmt: skip
    assert (ready.period, ready.initial_delay) == (90.0, 60.0)
    assert wp.depends_on["db"].condition == "started"
    assert wp.env["WORDPRESS_DB_PASSWORD"] == "${MYSQL_PASSWORD}"  # equal secrets share a variable
    assert wp.env["WORDPRESS_DB_USER"] == "wordpress"
    assert wp.env["WORDPRESS_DEBUG"] == "${WORDPRESS_DEBUG-}"
    assert wp.edges == {"db": "WORDPRESS_DB_HOST"}
    assert wp.ports == [80]
    assert wp.restart.policy == "always"


def test_compose_import_minio_profiles() -> None:
    """Profiled services are left out unless their profile is enabled; MinIO becomes an s3 datastore."""
    result, stack = imported("minio_profiles/compose.yml")
    assert set(stack.components) == {"minio", "uploader"}
    minio = stack.components["minio"]
    assert minio.datastore is not None
    assert minio.datastore.kind == "s3"
    assert minio.datastore.url == "http://${MINIO_ROOT_USER}:${MINIO_ROOT_PASSWORD}@127.0.0.1:9000"
    assert minio.datastore.volume == "minio-data"
    assert minio.probes.ready is not None
    assert minio.probes.ready.http is not None
    assert minio.probes.ready.http.url == "http://127.0.0.1:9000/minio/health/ready"
    assert stack.components["uploader"].env["AWS_SECRET_ACCESS_KEY"] == "${MINIO_ROOT_PASSWORD}"
    assert result.variables == ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]

    _, debug = imported("minio_profiles/compose.yml", profiles=["debug"])
    assert set(debug.components) == {"minio", "uploader", "mc", "mailpit"}
    mc = debug.components["mc"]
    assert mc.command == ["/bin/sh", "-c", "mc alias set local http://minio:9000 $$MINIO_ROOT_USER "
                          "$$MINIO_ROOT_PASSWORD && sleep infinity"]  # fmt: skip
    assert mc.depends_on["minio"].condition == "started"
    _, mail = imported("minio_profiles/compose.yml", profiles=["mail"])
    assert set(mail.components) == {"minio", "uploader", "mailpit"}


def test_compose_import_env_files_and_interpolation() -> None:
    """env_file entries are read beside the compose file; ${VAR} references stay as written."""
    result, stack = imported("env_files/compose.yaml")
    assert stack.stack == "acme-prod"  # `name: ${PROJECT_NAME:-acme}` read from .env
    api, pg = stack.components["api"], stack.components["pg"]
    assert api.image == "ghcr.io/acme/api:${TAG:-latest}"
    assert api.env["LOG_LEVEL"] == "debug"  # environment wins over env_file
    assert api.env["FEATURE_FLAGS"] == "search,checkout"
    assert api.env["API_TOKEN"] == "${API_TOKEN}"
    assert api.ports == [8081]
    assert pg.ports == [55432]
    assert pg.env["POSTGRES_USER"] == "acme"
    assert pg.datastore is not None
    assert pg.datastore.url == (
        "postgresql://acme:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
        "@127.0.0.1:${PG_PORT:-5432}/acme_main"
    )
    assert pg.datastore.volume == "pg-data"
    assert pg.probes.ready is not None
    assert pg.probes.ready.period == 2.0
    assert result.variables == ["API_TOKEN"]  # POSTGRES_PASSWORD is in .env already


def test_compose_import_one_shot_migration() -> None:
    """A service others wait on with service_completed_successfully becomes a one-shot job."""
    result, stack = imported("migrations/compose.yaml")
    migrate, app, db = (stack.components[n] for n in ("migrate", "app", "db"))
    assert migrate.one_shot is True
    assert migrate.restart.policy == "no"
    assert migrate.probes.ready is None
    assert migrate.command == ["python", "manage.py", "migrate", "--noinput"]
    assert app.depends_on["migrate"].condition == "completed"
    assert app.restart.policy == "on-failure"
    assert app.restart.max_retries == 3
    assert app.env["DATABASE_URL"] == "postgis://postgres:${POSTGRES_PASSWORD}@db:5432/postgres"
    assert db.datastore is not None
    assert db.datastore.url == "postgresql://postgres:${POSTGRES_PASSWORD}@127.0.0.1:15432/postgres"
    assert stack.waves() == [["db"], ["migrate"], ["app"]]
    assert any("db (postgres) keeps its data in no named volume" in w for w in result.warnings)


def test_compose_import_resources_and_ports() -> None:
    """deploy limits, mem_limit/cpus, port ranges, long-syntax ports and volumes of every kind."""
    result, stack = imported("resources/compose.yaml")
    api, worker, cron, cache = (stack.components[n] for n in ("api", "worker", "cron", "cache"))
    assert api.resources.memory == 512 * 1024**2
    assert api.resources.cpus == 0.5
    assert api.ports == [8088, 9000, 9001]  # udp 5353 and the ephemeral 3000 are not host TCP ports
    assert api.restart.policy == "on-failure"
    assert (api.restart.max_retries, api.restart.backoff.initial, api.restart.reset_after) == (4, 5.0, 120.0)
    ready = api.probes.ready
    assert ready is not None
    assert ready.tcp is not None
    assert (ready.tcp.host, ready.tcp.port) == ("127.0.0.1", 8088)
    assert (ready.period, ready.timeout, ready.initial_delay, ready.failure_threshold) == (90, 10, 40, 3)
    assert worker.resources.memory == 1024**3
    assert worker.resources.cpus == 1.5
    assert worker.restart.max_retries == 5
    assert worker.volumes == ["./spool:/spool", "/var/cache/worker"]
    assert cron.probes.ready is None  # healthcheck disabled
    assert cache.datastore is not None
    assert cache.datastore.url == "redis://:${REDIS_PASSWORD}@127.0.0.1:16379"
    assert any("worker uses `extends`" in w for w in result.warnings)


def test_compose_import_writes_compose_file_relative_to_output_dir() -> None:
    result = import_compose(HERE / "wordpress/docker-compose.yml", output_dir=HERE, stack_name="Blog Site")
    assert result.data["compose_file"] == "wordpress/docker-compose.yml"
    assert result.data["stack"] == "blog-site"


def write_compose(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


def error_of(path: Path, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        import_compose(path, **kwargs)
    return info.value


def test_compose_import_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "file not found" in str(error_of(tmp_path / "nope.yml"))


def test_compose_import_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    error = error_of(write_compose(tmp_path, "services:\n  web:\n    image: [unclosed\n"))
    assert error.line is not None
    assert "invalid YAML" in str(error)


def test_compose_import_without_services_is_a_config_error(tmp_path: Path) -> None:
    error = error_of(write_compose(tmp_path, "name: x\nvolumes: {}\n"))
    assert "no services" in str(error)
    assert error_of(write_compose(tmp_path, "")).message.endswith("the compose file is empty")


def test_compose_import_unknown_dependency_names_file_and_line(tmp_path: Path) -> None:
    path = write_compose(tmp_path, "services:\n  web:\n    image: x\n    depends_on:\n      - dbb\n")
    error = error_of(path)
    assert error.line == 4
    assert error.key == "services.web.depends_on.dbb"
    assert "unknown service 'dbb'" in str(error)


def test_compose_import_dependency_on_disabled_profile(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    image: x\n    depends_on: [tool]\n"
        "  tool:\n    image: y\n    profiles: [dev]\n"
    )
    path = write_compose(tmp_path, text)
    assert "enable one of its profiles: dev" in str(error_of(path))
    assert set(import_compose(path, profiles=["dev"]).data["components"]) == {"web", "tool"}


def test_compose_import_missing_env_file(tmp_path: Path) -> None:
    path = write_compose(tmp_path, "services:\n  web:\n    image: x\n    env_file: [app.env]\n")
    error = error_of(path)
    assert "env file not found" in str(error)
    assert error.line == 4


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("8080:80", [(8080, 80)]),
        ("127.0.0.1:8080:80/tcp", [(8080, 80)]),
        ("9000-9001:9000-9001", [(9000, 9000), (9001, 9001)]),
        ("80", [(None, 80)]),
        (80, [(None, 80)]),
        ("[::1]:5432:5432", [(5432, 5432)]),
        ("${WEB_PORT:-8080}:80", [(8080, 80)]),
        ({"target": 80, "published": 8081, "host_ip": "127.0.0.1"}, [(8081, 80)]),
        ({"target": 80}, [(None, 80)]),
    ],
)
def test_compose_import_port_syntax(entry: object, expected: list[tuple[int | None, int]]) -> None:
    assert [(p.host_number, p.container) for p in parse_port(entry, {})] == expected


def test_compose_import_volume_kinds() -> None:
    assert parse_volume("data:/var/lib/x").kind == "volume"  # type: ignore[union-attr]
    assert parse_volume("./data:/x:ro").read_only is True  # type: ignore[union-attr]
    assert parse_volume("/x").kind == "anonymous"  # type: ignore[union-attr]
    assert parse_volume({"type": "tmpfs", "target": "/tmp"}) is None


def test_compose_import_durations() -> None:
    assert go_duration("1m30s") == 90
    assert go_duration("500ms") == 0.5
    assert go_duration("1h") == 3600
    with pytest.raises(ValueError, match="invalid duration"):
        go_duration("ten seconds")


def test_compose_import_secret_rule() -> None:
    """Secret names get ${NAME}; flags, paths and plain values are copied; references lose defaults."""
    book = SecretBook()
    assert is_secret_name("AWS_SECRET_ACCESS_KEY")
    assert not is_secret_name("POSTGRES_PASSWORD_FILE")
    assert not is_secret_name("KEYBOARD_LAYOUT")
    assert import_value("DB_PASSWORD", "hunter22", "db", book) == "${DB_PASSWORD}"
    assert import_value("MYSQL_ALLOW_EMPTY_PASSWORD", "yes", "db", book) == "yes"
    assert import_value("API_TOKEN", "${TOKEN:-dev-token}", "api", book) == "${TOKEN}"
    assert import_value("LANG", "${LANG:-C.UTF-8}", "api", book) == "${LANG:-C.UTF-8}"
    assert import_value("DB_PASSWORD", "other-pw", "worker", book) == "${WORKER_DB_PASSWORD}"
    assert book.scrub_argv(["mysqladmin", "ping", "-phunter22"]) == ["mysqladmin", "ping", "-p${DB_PASSWORD}"]
    assert book.scrub_argv(["sh", "-c", "redis-cli -a other-pw ping"]) == [
        "sh", "-c", "redis-cli -a ${WORKER_DB_PASSWORD} ping",
    ]  # fmt: skip


def test_compose_import_ignores_extension_keys_and_keeps_order(tmp_path: Path) -> None:
    text = (
        "x-base: &base {restart: always}\n"
        "services:\n  b:\n    <<: *base\n    image: nginx\n  a:\n    image: x\n"
    )
    result = import_compose(write_compose(tmp_path, text))
    assert list(result.data["components"]) == ["b", "a"]
    assert result.data["components"]["b"]["restart"]["policy"] == "always"
    text_out = result.render()
    assert re.search(r"^stack: .*\nruntime: compose\ncompose_file: compose.yaml$", text_out, re.MULTILINE)
