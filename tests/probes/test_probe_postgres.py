"""The postgres probe against the real PostgreSQL server, in a scratch database it creates and drops."""

from __future__ import annotations

import asyncio
import secrets

import psycopg
import pytest

from _helpers import free_port, silent_server
from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, Status, run_probe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database(postgres_db: str) -> str:
    """The scratch database with one table; yields its URL."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE orders (id int)")
    return postgres_db


def run(check: object, timeout: str = "3s") -> ProbeResult:
    return asyncio.run(run_probe(ProbeSpec.model_validate({"postgres": check, "timeout": timeout})))


def test_connect_and_default_query_pass(database: str) -> None:
    result = run(database)
    assert (result.status, result.detail) == (Status.PASS, "query ok")
    assert result.observed == {"kind": "postgres"}


def test_a_custom_query_runs_in_the_database(database: str) -> None:
    assert run({"url": database, "query": "SELECT count(*) FROM orders"}).status is Status.PASS


def test_a_failing_query_fails_with_the_server_reason(database: str) -> None:
    result = run({"url": database, "query": "SELECT * FROM no_such_table"})
    assert (result.status, result.detail) == (
        Status.FAIL,
        'query failed: relation "no_such_table" does not exist',
    )


def test_a_missing_database_fails_without_showing_the_password() -> None:
    password = "pw-" + secrets.token_hex(8)
    missing = f"seawall_test_missing_{secrets.token_hex(4)}"
    result = run(f"postgresql://postgres:{password}@127.0.0.1:5432/{missing}")
    assert (result.status, result.detail) == (Status.FAIL, f'database "{missing}" does not exist')
    assert password not in result.detail


def test_an_unknown_role_fails() -> None:
    role = f"seawall_nobody_{secrets.token_hex(4)}"
    result = run(f"postgresql://{role}:secret@127.0.0.1:5432/postgres")
    assert (result.status, result.detail) == (Status.FAIL, f'role "{role}" does not exist')


def test_a_closed_port_fails_as_connection_refused() -> None:
    port = free_port()
    assert run(f"postgresql://postgres@127.0.0.1:{port}/postgres").detail == "connection refused"


def test_a_server_that_never_answers_times_out() -> None:
    async def main() -> ProbeResult:
        async with silent_server() as port:
            url = f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
            return await run_probe(ProbeSpec.model_validate({"postgres": url, "timeout": "300ms"}))

    result = asyncio.run(main())
    assert (result.status, result.detail) == (Status.FAIL, "timed out after 0.3s")
