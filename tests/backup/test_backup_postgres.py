"""PostgreSQL against the real server: dump, deep verify, restore, and a dump that dies midway."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import psycopg
import pytest

from _helpers import new_pg_database, pg_admin, pg_count, pg_databases
from seawall.backup import create_backup, show_backup, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup.sources.pg_fingerprint import _shares, fingerprint_conn, fingerprint_parallel
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

SERVER = "postgresql://postgres@127.0.0.1:5432"
SCHEMA = """
CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, note text, blob bytea, at timestamptz);
INSERT INTO orders(item, note, blob, at)
    SELECT md5(g::text), CASE WHEN g % 7 = 0 THEN NULL ELSE 'ünïcødé ✓ ' || g END,
           decode(md5(g::text), 'hex'), '2024-01-01'::timestamptz + g * interval '1 minute'
    FROM generate_series(1, 2000) g;
CREATE SCHEMA app;
CREATE TABLE app.big (id int, payload text);
INSERT INTO app.big SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 4) FROM generate_series(1, 150000) g;
CREATE VIEW order_items AS SELECT item FROM orders;
CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';
"""


@pytest.fixture
def databases() -> Iterator[list[str]]:
    """Names of databases a test creates; all dropped afterwards."""
    with pg_databases() as names:
        yield names


def new_db(databases: list[str], schema: str = SCHEMA) -> str:
    return new_pg_database(databases, schema)


def count(url: str, table: str = "orders") -> int:
    return pg_count(url, table)


def test_round_trip_deep_verify_and_restores(make_stack: MakeStack, databases: list[str]) -> None:
    url = new_db(databases)
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert art.format == "pg_dump-custom"
    assert art.position["lsn"]
    assert art.server_version
    assert art.server_version.startswith("15")
    assert art.fingerprint["tables"]["public.orders"]["rows"] == 2000
    assert art.fingerprint["tables"]["app.big"]["rows"] == 150000
    assert verify_backup(stack, backup.id, deep=True).ok

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"DELETE FROM orders WHERE id > 100")
        conn.execute(b"CREATE TABLE added_later (x int)")
    result = run_restore(stack, backup.id, force=True)
    assert result.safety_backup
    assert result.components[0].fingerprint_ok
    assert count(url) == 2000
    with psycopg.connect(url) as conn:
        assert conn.execute(b"SELECT double_it(21)").fetchone() == (42,)
        assert conn.execute(b"SELECT to_regclass('added_later')").fetchone() == (None,)

    other = f"seawall_test_{secrets.token_hex(5)}"
    databases.append(other)
    run_restore(stack, backup.id, component="db", to=f"{SERVER}/{other}")
    assert count(f"{SERVER}/{other}", "app.big") == 150000


def test_a_dump_killed_midway_fails_and_no_manifest_claims_it(
    make_stack: MakeStack, databases: list[str]
) -> None:
    url = new_db(databases)
    stack = make_stack(
        {
            "db": {"datastore": {"kind": "postgres", "url": url}},
            "files": {"datastore": {"kind": "files", "path": "data"}},
        }
    )
    killed: list[bool] = []

    def progress(component: str, done: int, total: int | None) -> None:
        if component == "db" and done > 0 and not killed:
            killed.append(True)
            pg_admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{url.rsplit('/', 1)[1]}' AND application_name = 'pg_dump'"
            )

    result = create_backup(stack, progress=progress)
    assert killed
    assert not result.ok
    assert result.exit_code == 1
    assert [f.component for f in result.failed] == ["db"]
    assert "pg_dump exited with status 1" in result.failed[0].error
    manifest = show_backup(stack, result.id).manifest
    assert manifest.artifact("db") is None
    assert manifest.artifact("files") is not None


def test_a_database_that_does_not_exist_is_a_failed_datastore(make_stack: MakeStack) -> None:
    missing = f"seawall_test_missing_{secrets.token_hex(4)}"
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": f"{SERVER}/{missing}"}}})
    result = create_backup(stack, components=["db"])
    assert not result.committed
    assert result.exit_code == 1
    assert "does not exist" in result.failed[0].error


def test_a_pg_dump_older_than_the_server_is_refused() -> None:
    from seawall.backup.errors import BackupError
    from seawall.backup.sources.postgres import client_tool

    with pytest.raises(BackupError, match="older than the server's major version 99"):
        client_tool("pg_dump", 99)


def test_rows_are_hashed_by_record_and_tables_with_unhashable_types_by_text(
    make_stack: MakeStack, databases: list[str]
) -> None:
    url = new_db(
        databases,
        SCHEMA
        + "CREATE TABLE docs (id int, body json, at point);"
        + "INSERT INTO docs SELECT g, json_build_object('n', g), point(g, g) FROM generate_series(1, 50) g;",
    )
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    fp = backup.artifacts[0].fingerprint
    assert fp["method"] == "pg-hash-2"
    assert fp["tables"]["public.orders"]["via"] == "record"
    assert fp["tables"]["public.docs"]["via"] == "text"  # json and point have no extended hash
    assert fp["tables"]["public.docs"]["rows"] == 50
    assert verify_backup(stack, backup.id, deep=True).ok


def test_the_row_hash_equals_the_whole_row_hash_that_earlier_backups_recorded(databases: list[str]) -> None:
    """ROW(live columns) is hashed as the whole-row reference was: recorded fingerprints still compare."""
    url = new_db(
        databases,
        'CREATE TABLE "Odd Name" (a int, "b c" text, d jsonb, e numeric, f timestamptz,'
        " g int GENERATED ALWAYS AS (a * 2) STORED);"
        'INSERT INTO "Odd Name" (a, "b c", d, e, f) SELECT g, CASE WHEN g % 3 = 0 THEN NULL'
        " ELSE 'v' || g END, jsonb_build_object('g', g), g / 7.0, now() - g * interval '1 hour'"
        " FROM generate_series(1, 300) g;"
        'ALTER TABLE "Odd Name" DROP COLUMN e;'
        "CREATE TABLE empty_shape (); INSERT INTO empty_shape DEFAULT VALUES;",
    )
    with psycopg.connect(url) as conn:
        tables = fingerprint_conn(conn)["tables"]
        for key, table in (("public.Odd Name", '"Odd Name"'), ("public.empty_shape", "empty_shape")):
            whole = conn.execute(f"SELECT sum(hash_record_extended(t, 0)) FROM {table} t".encode()).fetchone()
            assert whole is not None
            assert tables[key] == {"rows": tables[key]["rows"], "hash": str(whole[0]), "via": "record"}
    assert tables["public.Odd Name"]["rows"] == 300


def test_a_changed_row_changes_the_fingerprint_and_old_md5_fingerprints_still_compare(
    databases: list[str],
) -> None:
    from seawall.backup.sources.base import Target
    from seawall.backup.sources.postgres import PostgresDatastore
    from seawall.backup.verify import compare

    url = new_db(databases)
    ds, target = PostgresDatastore(), Target(kind="postgres", url=url)
    before = ds.fingerprint(target)
    legacy = ds.fingerprint(target, like={"tables": {}})  # a backup of format 1: no "method"
    assert "method" not in legacy
    assert legacy["tables"]["public.orders"]["rows"] == 2000
    assert "via" not in legacy["tables"]["public.orders"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"UPDATE orders SET note = note || '.' WHERE id = 17")
    assert compare(before, ds.fingerprint(target, like=before)) == (
        "tables: public.orders: hash: backed up"
        f" {before['tables']['public.orders']['hash']!r}, restored"
        f" {ds.fingerprint(target)['tables']['public.orders']['hash']!r}"
    )
    assert compare(legacy, ds.fingerprint(target, like=legacy)) is not None


def test_the_parallel_fingerprint_equals_one_connections_and_shares_the_snapshot(
    databases: list[str],
) -> None:
    """Tables dealt to 3 connections: the same result as one, read from the lead's snapshot."""
    url = new_pg_database(
        databases, SCHEMA + "CREATE TABLE app.small (x int); INSERT INTO app.small VALUES (1);"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        single = fingerprint_conn(conn)
    opened: list[psycopg.Connection[tuple[object, ...]]] = []

    def connect() -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(url)
        if opened:  # a write committed after the lead's snapshot: the helpers must not see it
            with psycopg.connect(url, autocommit=True) as writer:
                writer.execute(b"INSERT INTO app.small VALUES (2)")
        opened.append(conn)
        return conn

    parallel = fingerprint_parallel(connect, workers=3)
    assert len(opened) == 3
    assert parallel == single
    assert list(parallel["tables"]) == sorted(single["tables"])


def test_tables_are_dealt_largest_first_to_the_least_loaded_connection() -> None:
    sized = [("s", "a", 10), ("s", "b", 90), ("s", "c", 50), ("s", "d", 45)]
    assert _shares(sized, 2) == [[("s", "b"), ("s", "a")], [("s", "c"), ("s", "d")]]
    assert _shares(sized[:1], 4) == [[("s", "a")]]  # never an idle connection
