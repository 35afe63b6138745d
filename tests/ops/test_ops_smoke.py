"""`seawall smoke`: each check kind passes against a real target and fails for real."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from _helpers import PG_SERVER, RedisScratch, free_port
from seawall.config import StackConfig
from seawall.ops.smoke import SmokeReport, SmokeResult, run_smoke


def make_stack(tmp_path: Path, *checks: dict[str, Any]) -> StackConfig:
    return StackConfig.model_validate({"stack": "sm", "smoke": list(checks)}).bind(tmp_path, None)


def one(tmp_path: Path, check: dict[str, Any]) -> SmokeResult:
    [result] = run_smoke(make_stack(tmp_path, {"name": "it", **check})).results
    return result


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/":
            self._send(200, b"welcome aboard the lifebuoy shop")
        elif self.path == "/health":
            self._send(200, b'{"status": "pass"}')
        else:
            self._send(404, b"no such page")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """A small HTTP server on a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.integration
def test_http_with_the_expected_status_and_body_passes(tmp_path: Path, http_url: str) -> None:
    result = one(tmp_path, {"http": {"url": f"{http_url}/", "body_contains": "lifebuoy"}})
    assert (result.passed, result.kind, result.detail) == (True, "http", "HTTP 200")
    assert result.latency > 0
    json_check = {"url": f"{http_url}/health", "json_path": "status", "json_equals": "pass"}
    assert one(tmp_path, {"http": json_check}).passed


@pytest.mark.integration
def test_http_with_a_wrong_expected_status_fails(tmp_path: Path, http_url: str) -> None:
    result = one(tmp_path, {"http": {"url": f"{http_url}/", "status": [201]}})
    assert (result.passed, result.detail) == (False, "HTTP 200")
    missing = one(tmp_path, {"http": f"{http_url}/nope"})
    assert (missing.passed, missing.detail) == (False, "HTTP 404")


@pytest.mark.integration
def test_http_whose_body_lacks_the_text_fails(tmp_path: Path, http_url: str) -> None:
    result = one(tmp_path, {"http": {"url": f"{http_url}/", "body_contains": "anchor"}})
    assert (result.passed, result.detail) == (False, "body does not contain 'anchor'")


@pytest.mark.integration
def test_postgres_write_then_read_passes_and_leaves_no_row(tmp_path: Path, postgres_db: str) -> None:
    pg_url = postgres_db
    result = one(tmp_path, {"postgres": {"url": pg_url, "table": "smoke_rows"}})
    assert (result.passed, result.detail) == (True, "wrote and read back a row in smoke_rows")
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(b"SELECT count(*) FROM smoke_rows").fetchone()
    assert row == (0,)
    assert one(tmp_path, {"postgres": {"url": pg_url, "table": "smoke_rows"}}).passed  # table already there


@pytest.mark.integration
def test_an_unreachable_postgres_fails(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    result = one(tmp_path, {"postgres": {"url": url}})
    assert (result.passed, result.detail) == (False, "connection refused")


@pytest.mark.integration
def test_a_missing_postgres_database_fails_with_the_server_reason(tmp_path: Path) -> None:
    missing = f"seawall_test_missing_{secrets.token_hex(4)}"
    result = one(tmp_path, {"postgres": {"url": f"{PG_SERVER}/{missing}"}})
    assert (result.passed, result.detail) == (False, f'database "{missing}" does not exist')


@pytest.mark.integration
def test_mysql_write_then_read_passes(tmp_path: Path, mariadb_db: str) -> None:
    result = one(tmp_path, {"mysql": {"url": f"mariadb://root@127.0.0.1:3306/{mariadb_db}"}})
    assert (result.passed, result.detail) == (True, "wrote and read back a row in seawall_smoke")


@pytest.mark.integration
def test_an_unreachable_mysql_fails(tmp_path: Path) -> None:
    result = one(tmp_path, {"mysql": {"url": f"mysql://root@127.0.0.1:{free_port()}/x"}})
    assert (result.passed, result.detail) == (False, "connection refused")


@pytest.mark.integration
def test_redis_round_trip_passes_and_removes_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_scratch: RedisScratch
) -> None:
    key_token = f"seawall-test-{secrets.token_hex(6)}"
    tokens = iter([key_token, "the-value"])
    monkeypatch.setattr("seawall.ops.smoke._token", lambda: next(tokens))
    result = one(tmp_path, {"redis": redis_scratch.url})
    assert (result.passed, result.detail) == (True, "SET, GET and DEL round trip ok")
    assert redis_scratch.client.exists(f"seawall:smoke:{key_token}") == 0


@pytest.mark.integration
def test_an_unreachable_redis_fails(tmp_path: Path) -> None:
    result = one(tmp_path, {"redis": f"redis://127.0.0.1:{free_port()}/15"})
    assert (result.passed, result.detail) == (False, "connection refused")


def test_sqlite_write_then_read_passes_on_an_existing_file(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "app.db").close()
    result = one(tmp_path, {"sqlite": "app.db"})
    assert (result.passed, result.detail) == (True, "wrote and read back a row in seawall_smoke")
    conn = sqlite3.connect(tmp_path / "app.db")
    try:
        assert conn.execute("SELECT count(*) FROM seawall_smoke").fetchone() == (0,)
    finally:
        conn.close()


def test_sqlite_fails_clearly_on_a_missing_file_and_does_not_create_it(tmp_path: Path) -> None:
    result = one(tmp_path, {"sqlite": "gone.db"})
    assert (result.passed, result.detail) == (False, f"database file not found: {tmp_path / 'gone.db'}")
    assert not (tmp_path / "gone.db").exists()


@pytest.mark.integration
def test_a_command_exiting_1_fails_and_exit_0_passes(tmp_path: Path) -> None:
    failing = one(tmp_path, {"command": "echo broken pipe; exit 1"})
    assert (failing.passed, failing.detail) == (False, "exit code 1: broken pipe")
    assert one(tmp_path, {"command": ["true"]}).passed


@pytest.mark.integration
def test_a_command_runs_in_the_stack_directory(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("here")
    assert one(tmp_path, {"command": ["test", "-f", "marker"]}).passed
    (tmp_path / "sub").mkdir()
    assert not one(tmp_path, {"command": {"argv": ["test", "-f", "marker"], "cwd": "sub"}}).passed


@pytest.mark.integration
def test_a_check_over_its_timeout_fails(tmp_path: Path) -> None:
    result = one(tmp_path, {"command": ["sleep", "5"], "timeout": "300ms"})
    assert (result.passed, result.detail) == (False, "timed out after 0.3s")
    assert result.latency < 2


@pytest.mark.integration
def test_checks_run_concurrently_and_the_summary_counts_them(tmp_path: Path) -> None:
    stack = make_stack(
        tmp_path,
        {"name": "slow a", "command": ["sleep", "0.6"]},
        {"name": "slow b", "command": ["sleep", "0.6"]},
        {"name": "broken", "command": ["false"]},
    )
    report = run_smoke(stack)
    assert report.seconds < 1.1
    assert [r.name for r in report.results] == ["slow a", "slow b", "broken"]
    assert (report.summary, report.exit_code) == ("2/3 checks passed", 1)
    data = report.to_dict()
    assert (data["summary"], data["passed"]) == ("2/3 checks passed", False)


def test_a_stack_without_smoke_checks_passes_and_says_so() -> None:
    report = SmokeReport("empty")
    assert (report.summary, report.exit_code) == ("no smoke checks in the stack file", 0)
