"""`seawall doctor`: every check passes when it should and, above all, fails when it should."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest

from _helpers import free_port
from seawall.config import StackConfig
from seawall.ops._disk import GiB, MiB, disk_verdict, disks_for, nearest_existing
from seawall.ops.doctor import DoctorReport, run_doctor
from seawall.ops.doctor_checks import Check, config_checks, memory_check, memory_verdict, runtime_check
from seawall.ops.doctor_ports import Holder, port_checks, port_verdict
from seawall.ops.doctor_tools import mysql_tool_version, pg_server_major, pg_tool_major
from seawall.runtime import ComponentStatus

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL = "mysql://root@127.0.0.1:3306/"


class FakeRuntime:
    """A runtime that reports fixed pids and availability; it runs nothing."""

    name = "fake"

    def __init__(self, pids: dict[str, int] | None = None, available: tuple[bool, str] = (True, "ok")):
        self.pids = pids or {}
        self._available = available

    def available(self) -> tuple[bool, str]:
        return self._available

    def status(self, names: Sequence[str] = ()) -> list[ComponentStatus]:
        return [
            ComponentStatus(n, "running", pid=self.pids[n])
            if n in self.pids
            else ComponentStatus(n, "unknown")
            for n in names
        ]

    def start(self, names: Sequence[str]) -> None: ...
    def stop(self, names: Sequence[str] = (), grace: float | None = None) -> None: ...
    def kill(self, name: str, signal: int) -> None: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def restart(self, name: str) -> None: ...
    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        return iter(())

    def close(self) -> None: ...


def make_stack(tmp_path: Path, components: dict[str, Any], **extra: Any) -> StackConfig:
    data = {"stack": "doc", "components": components, **extra}
    return StackConfig.model_validate(data).bind(tmp_path, tmp_path / "seawall.yaml")


def by_name(report: DoctorReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print('listening', flush=True); time.sleep(120)\n"
)
PARENT = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]], stdout=sys.stdout)\n"
    "child.wait()\n"
)


@pytest.fixture
def listener() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A stranger process listening on a free port."""
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(port)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "listening"
            yield proc, port
        finally:
            proc.kill()


# --- pure verdicts -------------------------------------------------------------------------------


def test_disk_below_the_hard_floor_fails_and_below_the_margin_warns() -> None:
    assert disk_verdict(50 * MiB, 10 * GiB)[0] == "fail"  # under 100 MiB
    assert disk_verdict(5 * GiB, 1000 * GiB)[0] == "fail"  # under 1%
    assert disk_verdict(500 * MiB, 2 * GiB)[0] == "warn"  # under 1 GiB
    assert disk_verdict(5 * GiB, 100 * GiB)[0] == "warn"  # under 10%
    assert disk_verdict(50 * GiB, 100 * GiB) == ("ok", "")


def test_disk_is_measured_at_the_nearest_existing_parent_once_per_filesystem(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "yet" / "there"
    assert nearest_existing(missing) == tmp_path
    disks = disks_for([("data", missing), ("backups", tmp_path / "b"), ("state", tmp_path)])
    assert len(disks) == 1
    assert disks[0].purposes == ("data", "backups", "state")
    assert disks[0].path == str(tmp_path)


def test_memory_limits_above_total_ram_fail() -> None:
    check = memory_verdict({"api": 6 * GiB, "db": 6 * GiB}, total=8 * GiB, available=4 * GiB)
    assert check.status == "fail"
    assert "12.0GiB" in check.detail
    assert "8.0GiB this machine has" in check.detail


def test_memory_limits_above_available_ram_warn() -> None:
    assert memory_verdict({"api": 6 * GiB}, total=8 * GiB, available=4 * GiB).status == "warn"
    assert memory_verdict({"api": 1 * GiB}, total=8 * GiB, available=4 * GiB).status == "ok"
    assert memory_verdict({}, total=8 * GiB, available=4 * GiB).status == "ok"


def test_memory_check_of_a_stack_asking_for_more_than_this_machine_fails(tmp_path: Path) -> None:
    total = psutil.virtual_memory().total
    stack = make_stack(tmp_path, {"api": {"resources": {"memory": total + GiB}}})
    assert memory_check(stack).status == "fail"


def test_a_port_held_by_an_unknown_process_fails_and_says_so() -> None:
    check = port_verdict(8080, "api", [Holder(None)], own=set(), others={})
    assert (check.status, check.detail) == ("fail", "port 8080 is held by an unknown process")


def test_a_port_held_by_a_named_stranger_fails_naming_it() -> None:
    check = port_verdict(8080, "api", [Holder(1234, "nginx")], own={99}, others={})
    assert (check.status, check.detail) == ("fail", "port 8080 is held by nginx (pid 1234)")


def test_a_free_port_passes() -> None:
    assert port_verdict(8080, "api", [], own=set(), others={}).status == "ok"


def test_postgres_versions_are_parsed_from_tool_output_and_server_numbers() -> None:
    assert pg_tool_major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == (15,)
    assert pg_tool_major("pg_dump (PostgreSQL) 9.6.0") == (9, 6)
    assert pg_tool_major("not a version") is None
    assert pg_server_major(150020) == (15,)
    assert pg_server_major(90624) == (9, 6)
    assert pg_tool_major("pg_dump (PostgreSQL) 9.6.0") < pg_server_major(150020)  # type: ignore[operator]


def test_mysql_tool_versions_name_the_server_release() -> None:
    assert mysql_tool_version("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian") == (10, 11)
    assert mysql_tool_version("mysqldump  Ver 8.0.36 for Linux on x86_64") == (8, 0)


def test_a_report_with_a_failure_exits_1_and_warnings_alone_exit_0() -> None:
    warn = Check("a", "warn", "meh")
    assert DoctorReport("s", [Check("ok", "ok", "fine"), warn]).exit_code == 0
    failing = DoctorReport("s", [warn, Check("b", "fail", "broken", "fix it")])
    assert (failing.exit_code, failing.failed[0].name, failing.status) == (1, "b", "fail")
    assert failing.to_dict()["checks"] == [
        {"name": "a", "status": "warn", "detail": "meh", "hint": ""},
        {"name": "b", "status": "fail", "detail": "broken", "hint": "fix it"},
    ]


# --- config, runtime, commands, tools ------------------------------------------------------------


def test_config_reports_the_file_and_warns_about_an_unprobed_dependency(tmp_path: Path) -> None:
    stack = make_stack(
        tmp_path, {"db": {"command": ["true"]}, "api": {"command": ["true"], "depends_on": ["db"]}}
    )
    checks = config_checks(stack)
    assert checks[0] == Check("config", "ok", f"{tmp_path / 'seawall.yaml'}: valid, 2 components")
    warned = {c.name: c.detail for c in checks if c.status == "warn"}
    assert (
        warned["probes of db"] == "db has no readiness probe: dependents (api) start as soon as it is spawned"
    )


def test_an_unavailable_runtime_fails(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {})
    check = runtime_check(stack, FakeRuntime(available=(False, "no container engine")))
    assert (check.status, check.detail) == ("fail", "fake is not available: no container engine")
    assert runtime_check(stack, FakeRuntime()).status == "ok"


def test_an_unsupported_runtime_fails_instead_of_raising(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {}, runtime="kubernetes")
    check = runtime_check(stack, None)
    assert check.status == "fail"
    assert "kubernetes" in check.detail


def test_a_missing_command_fails_naming_it(tmp_path: Path) -> None:
    program = f"seawall-no-such-program-{secrets.token_hex(4)}"
    stack = make_stack(tmp_path, {"api": {"command": [program, "--port", "1"]}})
    report = run_doctor(stack, FakeRuntime())
    check = by_name(report, "command of api")
    assert (check.status, check.detail) == ("fail", f"command not found: {program}")
    assert report.exit_code == 1


def test_a_command_is_found_on_the_path_of_the_component_env(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "my-server"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    stack = make_stack(tmp_path, {"api": {"command": ["my-server"], "env": {"PATH": str(bin_dir)}}})
    report = run_doctor(stack, FakeRuntime(), environ={"PATH": "/nonexistent"})
    assert by_name(report, "command of api").status == "ok"


def test_missing_dump_tools_fail_and_say_what_needs_them(tmp_path: Path) -> None:
    stack = make_stack(
        tmp_path,
        {
            "db": {"datastore": {"kind": "postgres", "url": PG}},
            "cache": {"datastore": {"kind": "redis", "url": "redis://x"}},
        },
    )
    report = run_doctor(stack, FakeRuntime(), environ={"PATH": str(tmp_path)})
    pg = by_name(report, "tool pg_dump")
    assert (pg.status, pg.detail) == ("fail", "pg_dump not found on PATH (needed to back up db)")
    assert "postgresql-client" in pg.hint
    assert by_name(report, "tool redis-cli").status == "fail"
    assert not any(c.name.startswith("pg_dump vs") for c in report.checks)  # nothing to compare


# --- real processes and servers ------------------------------------------------------------------


@pytest.mark.integration
def test_a_port_held_by_a_stranger_fails_and_names_the_process(
    tmp_path: Path, listener: tuple[subprocess.Popen[str], int]
) -> None:
    proc, port = listener
    stack = make_stack(tmp_path, {"api": {"command": ["true"], "ports": [port]}})
    [check] = port_checks(stack, FakeRuntime())
    assert check.status == "fail"
    assert check.detail == f"port {port} is held by {psutil.Process(proc.pid).name()} (pid {proc.pid})"


@pytest.mark.integration
def test_a_port_held_by_the_component_itself_passes(
    tmp_path: Path, listener: tuple[subprocess.Popen[str], int]
) -> None:
    proc, port = listener
    stack = make_stack(tmp_path, {"api": {"command": ["true"], "ports": [port]}})
    [check] = port_checks(stack, FakeRuntime({"api": proc.pid}))
    assert (check.status, check.detail) == ("ok", f"port {port} is held by api itself (pid {proc.pid})")


@pytest.mark.integration
def test_a_port_held_by_a_child_of_the_component_passes(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-c", PARENT, LISTENER, str(port)], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            assert parent.stdout.readline().strip() == "listening"
            stack = make_stack(tmp_path, {"api": {"command": ["true"], "ports": [port]}})
            [check] = port_checks(stack, FakeRuntime({"api": parent.pid}))
            assert check.status == "ok"
            assert "held by api itself" in check.detail
        finally:
            for child in psutil.Process(parent.pid).children(recursive=True):
                child.kill()
            parent.kill()


@pytest.mark.integration
def test_a_port_held_by_another_component_fails_naming_it(
    tmp_path: Path, listener: tuple[subprocess.Popen[str], int]
) -> None:
    proc, port = listener
    stack = make_stack(
        tmp_path, {"api": {"command": ["true"], "ports": [port]}, "web": {"command": ["true"], "ports": [1]}}
    )
    checks = port_checks(stack, FakeRuntime({"web": proc.pid}))
    api = next(c for c in checks if c.name == f"port {port} (api)")
    assert api.status == "fail"
    assert api.detail == f"port {port} is held by web (pid {proc.pid}), another component of this stack"


def fake_tool(directory: Path, name: str, output: str) -> dict[str, str]:
    """An executable ``name`` in ``directory`` printing ``output``; returns an environ finding it first."""
    directory.mkdir(exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho '{output}'\n")
    tool.chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}


@pytest.mark.integration
def test_pg_dump_older_than_the_server_fails(tmp_path: Path) -> None:
    environ = fake_tool(tmp_path / "bin", "pg_dump", "pg_dump (PostgreSQL) 9.6.0")
    stack = make_stack(tmp_path, {"db": {"datastore": {"kind": "postgres", "url": PG}}})
    report = run_doctor(stack, FakeRuntime(), environ=environ)
    check = by_name(report, "pg_dump vs db")
    assert check.status == "fail"
    assert check.detail.startswith("pg_dump 9.6, server ")
    assert "older than the server" in check.detail
    assert report.exit_code == 1


@pytest.mark.integration
def test_pg_dump_newer_than_the_server_passes(tmp_path: Path) -> None:
    environ = fake_tool(tmp_path / "bin", "pg_dump", "pg_dump (PostgreSQL) 99.1")
    stack = make_stack(tmp_path, {"db": {"datastore": {"kind": "postgres", "url": PG}}})
    assert by_name(run_doctor(stack, FakeRuntime(), environ=environ), "pg_dump vs db").status == "ok"


@pytest.mark.integration
def test_an_unreachable_postgres_server_is_a_warning_that_says_so(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    stack = make_stack(tmp_path, {"db": {"datastore": {"kind": "postgres", "url": url}}})
    check = by_name(run_doctor(stack, FakeRuntime()), "pg_dump vs db")
    assert check.status == "warn"
    assert check.detail.startswith("server unreachable (connection refused)")


@pytest.mark.integration
def test_a_mariadb_dump_of_another_release_warns(tmp_path: Path) -> None:
    environ = fake_tool(tmp_path / "bin", "mariadb-dump", "mariadb-dump  Ver 10.19 Distrib 5.5.1-MariaDB")
    stack = make_stack(tmp_path, {"db": {"datastore": {"kind": "mysql", "url": MYSQL}}})
    check = by_name(run_doctor(stack, FakeRuntime(), environ=environ), "mariadb-dump vs db")
    assert check.status == "warn"
    assert check.detail.startswith("mariadb-dump 5.5, server ")


@pytest.mark.integration
def test_the_real_tools_match_the_real_servers(tmp_path: Path) -> None:
    stack = make_stack(
        tmp_path,
        {
            "db": {"datastore": {"kind": "postgres", "url": PG}},
            "sql": {"datastore": {"kind": "mysql", "url": MYSQL}},
        },
    )
    report = run_doctor(stack, FakeRuntime())
    assert by_name(report, "pg_dump vs db").status == "ok"
    assert by_name(report, "mariadb-dump vs sql").status == "ok"
