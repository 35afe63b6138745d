"""The compose runtime's pure parts: engine states to ComponentStatus, volume warnings, endpoints, names."""

from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from seawall.config import ComponentSpec
from seawall.errors import ConfigError
from seawall.runtime import ComposeRuntime, get_runtime, stack_from_compose
from seawall.runtime._compose_cli import project_name
from seawall.runtime._compose_status import from_inspect, from_ps, parse_time, signal_exit
from seawall.runtime._engine_api import DEFAULT_HOST, engine_host
from seawall.runtime.compose import compose_file_of
from seawall.runtime.compose_volumes import volume_warnings

SPEC = ComponentSpec()


def inspect(status: str, code: int = 0, **extra: Any) -> dict[str, Any]:
    state = {"Status": status, "ExitCode": code, "Pid": 42 if status == "running" else 0}
    state.update(extra.pop("state", {}))
    return {"Id": "abcdef0123456789", "Name": "/p-web-1", "State": state, **extra}


def test_engine_timestamps_with_nanoseconds_and_zones() -> None:
    """RFC 3339 times with nanoseconds, Z or offsets parse; the zero time is None."""
    assert parse_time("2026-01-02T03:04:05.123456789Z") == pytest.approx(1767323045.123456)
    assert parse_time("2026-01-02T04:04:05+01:00") == pytest.approx(1767323045.0)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None
    assert parse_time("yesterday") is None


def test_signal_exit_codes_become_negative_signals() -> None:
    """128+N is "killed by signal N" (-N); other codes stay."""
    assert signal_exit(137) == -signal.SIGKILL
    assert signal_exit(143) == -signal.SIGTERM
    assert (signal_exit(0), signal_exit(3), signal_exit(None)) == (0, 3, None)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("running", 0, "running"),
        ("paused", 0, "paused"),
        ("restarting", 1, "backoff"),
        ("created", 0, "starting"),
        ("exited", 0, "stopped"),
        ("exited", 143, "stopped"),
        ("exited", 137, "exited"),
        ("exited", 2, "exited"),
        ("dead", 0, "failed"),
        ("weird", 0, "unknown"),
    ],
)
def test_container_states_map_to_component_states(status: str, code: int, expected: str) -> None:
    """Each engine state has one component state."""
    assert from_inspect("web", SPEC, inspect(status, code)).state == expected


def test_one_shot_success_is_completed_and_a_start_error_is_failed() -> None:
    """A job that exited 0 is completed; an engine error on start is a failure with its message."""
    job = ComponentSpec.model_validate({"one_shot": True, "restart": "no"})
    assert from_inspect("job", job, inspect("exited", 0)).state == "completed"
    failed = from_inspect("web", SPEC, inspect("exited", 127, state={"Error": "exec: nope: not found"}))
    assert failed.state == "failed"
    assert "not found" in failed.detail


def test_inspect_fields() -> None:
    """Pid, start time, restarts, exit code (finished only), health and policy come from inspect."""
    data = inspect(
        "running",
        state={"StartedAt": "2026-01-02T03:04:05Z", "Health": {"Status": "healthy"}},
        RestartCount=2,
        HostConfig={"RestartPolicy": {"Name": "always"}},
    )
    status = from_inspect("web", SPEC, data)
    assert (status.pid, status.restart_count, status.last_exit_code) == (42, 2, None)
    assert status.started_at == pytest.approx(1767323045.0)
    assert status.extra["health"] == "healthy"
    assert status.extra["restart_policy"] == "always"
    assert status.extra["container"] == "p-web-1"
    gone = from_inspect("web", SPEC, inspect("exited", 137, state={"OOMKilled": True}))
    assert (gone.pid, gone.last_exit_code) == (None, -9)
    assert "out of memory" in gone.detail


def test_engine_limits_and_unapplied_seawall_limits() -> None:
    """The engine's memory/cpu/nofile limits are enforced; seawall.yaml's own are reported as not."""
    spec = ComponentSpec.model_validate({"resources": {"memory": "1Gi", "open_files": 100}})
    host = {"Memory": 64 * 1024 * 1024, "CpuQuota": 50000, "CpuPeriod": 100000}
    limits = {lim.name: lim for lim in from_inspect("web", spec, inspect("running", HostConfig=host)).limits}
    assert limits["memory"].enforced
    assert limits["memory"].how.startswith("engine")
    assert (limits["cpus"].value, limits["cpus"].enforced) == ("0.5", True)
    assert not limits["open_files"].enforced


def test_status_from_compose_ps_alone() -> None:
    """Without the engine API, `compose ps` still gives state, exit code and health."""
    entry = {"State": "exited", "ExitCode": 137, "Status": "Exited (137)", "Name": "p-web-1", "Health": ""}
    status = from_ps("web", SPEC, entry)
    assert (status.state, status.last_exit_code, status.pid) == ("exited", -9, None)


def test_stateful_services_without_named_volumes_are_warned_about() -> None:
    """Postgres with no volume, redis with an anonymous one, mongo without one: warned; the rest not."""
    compose = {
        "services": {
            "db": {"image": "postgres:16"},
            "cache": {"image": "docker.io/library/redis:7", "volumes": ["/data"]},
            "docs": {"image": "mongo:7"},
            "kept": {"image": "mariadb:11", "volumes": ["dbdata:/var/lib/mysql"]},
            "bound": {"image": "minio/minio", "command": "server /srv/minio", "volumes": ["./m:/srv/minio"]},
            "pgdata": {
                "image": "postgres",
                "environment": {"PGDATA": "/pg"},
                "volumes": [{"type": "volume", "source": "pg", "target": "/pg"}],
            },
            "web": {"image": "nginx"},
            "built": {"build": "."},
        }
    }
    warnings = volume_warnings(compose)
    assert len(warnings) == 3
    assert "service db (postgres:16) keeps its data in the container" in warnings[0]
    assert "anonymous volume (/data)" in warnings[1]
    assert warnings[2].startswith("service docs (mongo:7)")
    assert volume_warnings({}) == []


def test_project_names_follow_compose_rules() -> None:
    """Stack names become valid compose project names."""
    assert project_name("Shop.Prod") == "shop-prod"
    assert project_name("my_stack-1") == "my_stack-1"


def test_engine_host_like_the_docker_cli(tmp_path: Path) -> None:
    """DOCKER_HOST wins, then DOCKER_CONTEXT or the current context's endpoint, then the default socket."""
    assert engine_host({"DOCKER_HOST": "unix:///x.sock"}) == "unix:///x.sock"
    config = tmp_path / "docker"
    meta = config / "contexts" / "meta" / hashlib.sha256(b"remote").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Endpoints": {"docker": {"Host": "tcp://10.0.0.5:2375"}}}))
    assert engine_host({"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "remote"}) == "tcp://10.0.0.5:2375"
    (config / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert engine_host({"DOCKER_CONFIG": str(config)}) == "tcp://10.0.0.5:2375"
    assert engine_host({"DOCKER_CONFIG": str(tmp_path / "none")}) == DEFAULT_HOST


def test_stack_from_a_compose_file_alone(tmp_path: Path) -> None:
    """A compose file is a stack on its own: runtime compose, one component per service."""
    file = tmp_path / "compose.yaml"
    file.write_text("name: demo\nservices:\n  web:\n    image: busybox\n    ports: ['8080:80']\n")
    stack = stack_from_compose(file)
    assert (stack.stack, stack.runtime, list(stack.components)) == ("demo", "compose", ["web"])
    assert stack.source == file
    assert compose_file_of(stack) == file
    assert isinstance(get_runtime(stack), ComposeRuntime)


def test_missing_compose_file_is_a_config_error(tmp_path: Path) -> None:
    """A compose stack whose file is gone says which file it wanted."""
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  web:\n    image: busybox\n")
    stack = stack_from_compose(file)
    file.unlink()
    with pytest.raises(ConfigError, match="compose file not found"):
        compose_file_of(stack)
