"""The mysql probe against the real MariaDB server, in a scratch database it creates and drops."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from _helpers import MYSQL_SERVER, free_port, mariadb_admin
from seawall.config.probes import ProbeSpec
from seawall.errors import ConfigError
from seawall.probes import ProbeResult, Status, run_probe
from seawall.probes.mysql import MysqlTarget

pytestmark = pytest.mark.integration

SERVER = MYSQL_SERVER


@pytest.fixture(scope="module")
def database(mariadb_db: str) -> str:
    """The scratch database with one table; yields its name."""
    with mariadb_admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE TABLE `{mariadb_db}`.orders (id int)")
    return mariadb_db


def run(check: object, timeout: str = "3s", key: str = "mysql") -> ProbeResult:
    return asyncio.run(run_probe(ProbeSpec.model_validate({key: check, "timeout": timeout})))


def test_connect_and_query_pass_under_both_names(database: str) -> None:
    query = {"url": f"mysql://root@{SERVER}/{database}", "query": "SELECT COUNT(*) FROM orders"}
    assert run(query).status is Status.PASS
    result = run(f"mariadb://root@{SERVER}/{database}", key="mariadb")
    assert (result.status, result.detail) == (Status.PASS, "query ok")
    assert result.observed == {"kind": "mysql"}


def test_a_failing_query_fails_with_the_server_reason(database: str) -> None:
    result = run({"url": f"mysql://root@{SERVER}/{database}", "query": "SELECT * FROM nope"})
    assert result.status is Status.FAIL
    assert result.detail == f"Table '{database}.nope' doesn't exist"


def test_a_wrong_password_fails_without_showing_it() -> None:
    password = "pw-" + secrets.token_hex(8)
    result = run(f"mysql://root:{password}@{SERVER}/")
    assert result.status is Status.FAIL
    assert result.detail.startswith("Access denied for user 'root'")
    assert password not in result.detail


def test_an_unknown_database_fails() -> None:
    missing = f"seawall_test_missing_{secrets.token_hex(4)}"
    result = run(f"mysql://root@{SERVER}/{missing}")
    assert (result.status, result.detail) == (Status.FAIL, f"Unknown database '{missing}'")


def test_a_closed_port_fails_as_connection_refused() -> None:
    port = free_port()
    assert run(f"mysql://root@127.0.0.1:{port}/").detail == "connection refused"


def test_a_url_of_another_scheme_is_a_failure_not_an_exception() -> None:
    result = run("postgresql://root:hunter2@127.0.0.1/db")
    assert result.status is Status.FAIL
    assert result.detail.startswith("invalid MySQL URL 'postgresql://root:***@127.0.0.1/db'")


def test_url_parsing_defaults_and_decoding() -> None:
    target = MysqlTarget.from_url("mariadb://app:p%40ss@db.internal/shop")
    assert target == MysqlTarget("db.internal", 3306, "app", "p@ss", "shop")
    assert MysqlTarget.from_url("mysql://") == MysqlTarget("127.0.0.1", 3306, "root", "", None)
    with pytest.raises(ConfigError):
        MysqlTarget.from_url("mysql://h:notaport/")
