"""Loading seawall.yaml: interpolation, .env, and one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.config import json_schema, load_stack
from seawall.errors import ConfigError

GOOD = """\
stack: shop
components:
  api:
    command: [python, -m, http.server, "${PORT:-8080}"]
    depends_on: [db]
    probes: {ready: {http: "http://127.0.0.1:${PORT:-8080}/"}}
  db:
    datastore: {kind: postgres, url: "postgresql://postgres:${DB_PASSWORD}@127.0.0.1/shop"}
objectives: {rto: 15m, rpo: 15m}
"""


def write(tmp_path: Path, text: str, env: str | None = None) -> Path:
    path = tmp_path / "seawall.yaml"
    path.write_text(text)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_stack(path, environ=environ or {})
    return info.value


def test_good_file_loads_with_defaults_and_dotenv(tmp_path: Path) -> None:
    stack = load_stack(write(tmp_path, GOOD, env="DB_PASSWORD=s3cret\n"), environ={})
    assert stack.stack == "shop"
    assert stack.components["api"].command == ["python", "-m", "http.server", "8080"]
    assert stack.components["db"].datastore is not None
    assert stack.components["db"].datastore.url == "postgresql://postgres:s3cret@127.0.0.1/shop"
    assert stack.waves() == [["db"], ["api"]]
    assert stack.objectives.rto == 900.0
    assert stack.root == tmp_path.resolve()


def test_process_environment_overrides_dotenv(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, env="DB_PASSWORD=fromfile\nPORT=1\n")
    stack = load_stack(path, environ={"DB_PASSWORD": "x", "PORT": "9090"})
    assert stack.components["api"].command == ["python", "-m", "http.server", "9090"]


def test_missing_variable_names_line_key_and_variable(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD))
    assert err.line == 8
    assert err.key == "components.db.datastore.url"
    assert "DB_PASSWORD" in str(err)
    assert err.exit_code == 2


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    text = GOOD.replace("depends_on: [db]", "depend_on: [db]")
    err = error_of(write(tmp_path, text), {"DB_PASSWORD": "x"})
    assert err.line == 5
    assert "unknown key 'depend_on'" in str(err)
    assert "did you mean 'depends_on'" in str(err)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "stack: shop\ncomponents:\n  api: [unclosed\n"))
    assert "invalid YAML" in str(err)
    assert err.line is not None
    assert err.line >= 3


def test_dependency_cycle_is_a_config_error(tmp_path: Path) -> None:
    text = "stack: s\ncomponents:\n  a: {depends_on: [b]}\n  b: {depends_on: [a]}\n"
    err = error_of(write(tmp_path, text))
    assert "dependency cycle" in str(err)


def test_unknown_dependency_is_named(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "stack: s\ncomponents:\n  a: {depends_on: [nope]}\n"))
    assert "unknown component 'nope'" in str(err)


def test_wrong_type_names_key_and_line(tmp_path: Path) -> None:
    text = "stack: s\ncomponents:\n  a:\n    start_timeout: forever\n"
    err = error_of(write(tmp_path, text))
    assert err.key == "components.a.start_timeout"
    assert err.line == 4
    assert "invalid duration" in str(err)


def test_probe_needs_exactly_one_kind(tmp_path: Path) -> None:
    text = "stack: s\ncomponents:\n  a:\n    probes: {ready: {period: 1s}}\n"
    err = error_of(write(tmp_path, text))
    assert "exactly one of" in str(err)


def test_no_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no seawall\.yaml") as info:
        load_stack(tmp_path)
    assert "seawall init" in str(info.value)


def test_a_compose_file_alone_is_a_compose_stack(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "name: shop\nservices:\n  web:\n    image: nginx\n    ports: ['8080:80']\n"
        "  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: '${PGPW}'}\n"
        "    ports: ['5432:5432']\n"
    )
    stack = load_stack(tmp_path, environ={"PGPW": "pw"})
    assert stack.runtime == "compose"
    assert set(stack.components) == {"web", "db"}
    db = stack.components["db"].datastore
    assert db is not None
    assert db.kind == "postgres"
    assert db.url is not None
    assert ":pw@" in db.url
    assert stack.source == (tmp_path / "docker-compose.yml").resolve()


def test_seawall_yaml_wins_over_a_compose_file(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "seawall.yaml").write_text("stack: mine\n")
    assert load_stack(tmp_path).stack == "mine"


def test_empty_and_non_mapping_files_are_rejected(tmp_path: Path) -> None:
    assert "empty" in str(error_of(write(tmp_path, "")))
    assert "mapping" in str(error_of(write(tmp_path, "- a\n- b\n")))


def test_json_schema_describes_components_and_probes() -> None:
    schema = json_schema()
    assert schema["title"] == "seawall.yaml"
    text = str(schema)
    for key in ("depends_on", "failure_threshold", "datastore", "one_shot"):
        assert key in text
