"""`seawall storage`: sizes from real servers, files and directories; unreachable ones become error rows."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from _helpers import REDIS_DB, RedisScratch, free_port, mariadb_admin
from seawall.config import StackConfig
from seawall.ops.storage import S3_PENDING, DatastoreSize, StorageReport, measure_storage, walk_size


def make_stack(tmp_path: Path, components: dict[str, Any]) -> StackConfig:
    return StackConfig.model_validate({"stack": "st", "components": components}).bind(tmp_path, None)


def only(report: StorageReport) -> DatastoreSize:
    [row] = report.datastores
    return row


@pytest.fixture(scope="module")
def pg_database(postgres_db: str) -> str:
    """The scratch PostgreSQL database with two tables; yields its URL."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE orders (id int, note text)")
        conn.execute(b"CREATE TABLE items (id int)")
        conn.execute(b"INSERT INTO orders SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g")
    return postgres_db


@pytest.fixture(scope="module")
def mysql_schema(mariadb_db: str) -> str:
    """The scratch MariaDB schema with three tables; yields its name."""
    with mariadb_admin() as admin, admin.cursor() as cursor:
        for table in ("a", "b", "c"):
            cursor.execute(f"CREATE TABLE `{mariadb_db}`.{table} (id int primary key, v text)")
        cursor.execute(f"INSERT INTO `{mariadb_db}`.a VALUES (1, REPEAT('y', 5000))")
    return mariadb_db


@pytest.fixture
def redis_keys(redis_scratch: RedisScratch) -> int:
    """Three keys of our own in db 15 (deleted afterwards by ``redis_scratch``); yields how many."""
    for i in range(3):
        redis_scratch.client.set(f"{redis_scratch.prefix}{i}", "v" * 100, ex=300)
    return 3


@pytest.mark.integration
def test_postgres_size_is_the_database_size_with_its_table_count(pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        row = conn.execute(b"SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    row_out = only(
        measure_storage(
            make_stack(Path("."), {"db": {"datastore": {"kind": "postgres", "url": pg_database}}})
        )
    )
    assert row_out.error is None
    assert row_out.size_bytes == row[0]
    assert row_out.detail == f"database {pg_database.rsplit('/', 1)[1]}, 2 tables"


@pytest.mark.integration
def test_redis_reports_used_memory_and_the_keys_of_its_db(redis_keys: int) -> None:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    row = only(
        measure_storage(make_stack(Path("."), {"cache": {"datastore": {"kind": "redis", "url": url}}}))
    )
    assert row.error is None
    assert row.size_bytes is not None
    assert row.size_bytes > 0
    match = re.fullmatch(rf"(\d+) keys in db {REDIS_DB}; memory is the whole server's", row.detail)
    assert match is not None
    assert int(match.group(1)) >= redis_keys  # others may share db 15; ours are there at least


@pytest.mark.integration
def test_mysql_size_is_the_schema_data_and_index_length(mysql_schema: str) -> None:
    url = f"mariadb://root@127.0.0.1:3306/{mysql_schema}"
    row = only(measure_storage(make_stack(Path("."), {"sql": {"datastore": {"kind": "mysql", "url": url}}})))
    assert row.error is None
    assert row.size_bytes is not None
    assert row.size_bytes > 0
    assert row.detail == f"schema {mysql_schema}, 3 tables"


@pytest.mark.integration
def test_unreachable_servers_become_rows_with_errors_not_exceptions(tmp_path: Path) -> None:
    port = free_port()
    password = "pw-" + secrets.token_hex(6)
    stack = make_stack(
        tmp_path,
        {
            "db": {"datastore": {"kind": "postgres", "url": f"postgresql://u:{password}@127.0.0.1:{port}/x"}},
            "cache": {"datastore": {"kind": "redis", "url": f"redis://:{password}@127.0.0.1:{port}/0"}},
            "sql": {"datastore": {"kind": "mysql", "url": f"mysql://root:{password}@127.0.0.1:{port}/x"}},
        },
    )
    report = measure_storage(stack, timeout=2)
    assert [(r.component, r.size_bytes, r.error) for r in report.datastores] == [
        ("db", None, "connection refused"),
        ("cache", None, "connection refused"),
        ("sql", None, "connection refused"),
    ]
    assert password not in str(report.to_dict())


def test_a_mysql_url_without_a_database_is_an_error_row(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {"sql": {"datastore": {"kind": "mysql", "url": "mysql://root@127.0.0.1/"}}})
    assert "names no database" in (only(measure_storage(stack)).error or "")


def test_sqlite_size_counts_the_wal_and_shm_files(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("CREATE TABLE u (v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [("z" * 500,)] * 200)
        conn.commit()
        expected = sum(
            os.stat(f"{path}{s}").st_size for s in ("", "-wal", "-shm") if Path(f"{path}{s}").exists()
        )
        assert Path(f"{path}-wal").exists()
        row = only(
            measure_storage(
                make_stack(tmp_path, {"app": {"datastore": {"kind": "sqlite", "path": "app.db"}}})
            )
        )
    finally:
        conn.close()
    assert (row.size_bytes, row.detail, row.error) == (expected, "2 tables", None)


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {"app": {"datastore": {"kind": "sqlite", "path": "gone.db"}}})
    row = only(measure_storage(stack))
    assert row.error == f"file not found: {tmp_path / 'gone.db'}"
    assert not (tmp_path / "gone.db").exists()


def test_files_are_summed_without_following_symlinks_and_honour_excludes(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    (root / "a" / "b").mkdir(parents=True)
    (root / "one.bin").write_bytes(b"1" * 100)
    (root / "a" / "two.bin").write_bytes(b"2" * 200)
    (root / "a" / "b" / "three.tmp").write_bytes(b"3" * 300)
    outside = tmp_path / "big"
    outside.write_bytes(b"x" * 10_000)
    (root / "link").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    link_sizes = os.lstat(root / "link").st_size + os.lstat(root / "dirlink").st_size
    assert walk_size(root) == (600 + link_sizes, 5, 0, 0)
    stack = make_stack(
        tmp_path, {"web": {"datastore": {"kind": "files", "path": "uploads", "exclude": ["*.tmp"]}}}
    )
    row = only(measure_storage(stack))
    assert (row.size_bytes, row.detail) == (300 + link_sizes, "4 files, 1 excluded")


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {"web": {"datastore": {"kind": "files", "path": "nope"}}})
    assert only(measure_storage(stack)).error == f"directory not found: {tmp_path / 'nope'}"


def test_s3_is_listed_as_not_measured_yet(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, {"blobs": {"datastore": {"kind": "s3", "url": "s3://bucket/prefix"}}})
    row = only(measure_storage(stack))
    assert (row.size_bytes, row.detail, row.error) == (None, S3_PENDING, None)


def test_free_disk_is_reported_once_per_filesystem_where_data_lives(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    stack = make_stack(
        tmp_path,
        {
            "web": {"datastore": {"kind": "files", "path": "files"}},
            "app": {"datastore": {"kind": "sqlite", "path": "later/app.db"}},
        },
    )
    report = measure_storage(stack)
    [disk] = report.disks
    assert disk.purposes == ("web data", "app data")
    assert 0 < disk.free_bytes <= disk.total_bytes
    data = report.to_dict()
    assert data["total_bytes"] == 0
    assert isinstance(data["disks"], list)
    assert data["disks"][0]["path"] == str(tmp_path / "files")
