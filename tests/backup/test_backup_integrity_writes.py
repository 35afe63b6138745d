"""Writes going on during a PostgreSQL or MariaDB backup: the backup is one consistent snapshot."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator

import psycopg
import pytest

from _helpers import PG_SERVER, mariadb_admin, run_cli, wait_for
from seawall.backup import restore as run_restore
from seawall.backup import show_backup, verify_backup
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

K = 50
# each transaction: K rows into two tables and the counter moved by one; stops by itself after 120 s
WRITER = f"""
import sys, time, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with conn.transaction():
            n = conn.execute(b"UPDATE counter SET n = n + 1 RETURNING n").fetchone()[0]
            conn.execute(b"INSERT INTO a SELECT %s, g FROM generate_series(1, {K}) g", (n,))
            conn.execute(b"INSERT INTO b SELECT %s, md5(g::text) FROM generate_series(1, {K}) g", (n,))
"""
SCHEMA = b"""
CREATE TABLE counter (n int NOT NULL);
INSERT INTO counter VALUES (0);
CREATE TABLE a (batch int, i int);
CREATE TABLE b (batch int, body text);
CREATE TABLE ballast (id int, body text);
INSERT INTO ballast SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 200000) g;
"""


def one(url: str, sql: bytes) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def backup_while_writing(
    stack: StackConfig, writer: str, database: str, counter: Callable[[], int]
) -> tuple[str, int, int]:
    """``backup create`` while ``writer`` commits; the backup's id and the counter before and after it."""
    proc = subprocess.Popen([sys.executable, "-c", writer, database])
    try:
        wait_for(lambda: counter() >= 20, what="the writer to commit")
        before = counter()
        done = run_cli(stack.root, "backup", "create", "--json")
        after = counter()
    finally:
        proc.kill()
        proc.wait()
    assert done.returncode == 0, done.stderr
    assert after > before, "the writer should commit while the backup runs"
    return str(json.loads(done.stdout)["id"]), before, after


@pytest.fixture
def restored_db() -> Iterator[str]:
    """The URL of a database a restore creates; dropped afterwards."""
    name = f"seawall_test_{secrets.token_hex(5)}"
    yield f"{PG_SERVER}/{name}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def test_postgres_backup_under_concurrent_transactions_is_never_torn(
    make_stack: MakeStack, postgres_db: str, restored_db: str
) -> None:
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(SCHEMA)
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": postgres_db}}})
    backup_id, before, after = backup_while_writing(
        stack, WRITER, postgres_db, lambda: one(postgres_db, b"SELECT n FROM counter")
    )
    art = show_backup(stack, backup_id).manifest.artifact("db")
    assert art is not None
    tables = art.fingerprint["tables"]
    assert tables["public.a"]["rows"] == tables["public.b"]["rows"]
    assert tables["public.a"]["rows"] % K == 0
    assert verify_backup(stack, backup_id, deep=True).ok

    result = run_restore(stack, backup_id, component="db", to=restored_db)
    assert result.components[0].fingerprint_ok  # the restored data hashes to the manifest's fingerprint
    n = one(restored_db, b"SELECT n FROM counter")
    assert before <= n <= after
    assert one(restored_db, b"SELECT count(*) FROM a") == n * K
    assert one(restored_db, b"SELECT count(*) FROM b") == n * K
    assert one(restored_db, b"SELECT count(DISTINCT batch) FROM a") == n
    assert one(restored_db, b"SELECT max(batch) FROM b") == n


MARIADB_WRITER = f"""
import sys, time, pymysql
conn = pymysql.connect(host="127.0.0.1", user="root", database=sys.argv[1])
deadline = time.monotonic() + 120
with conn.cursor() as cur:
    while time.monotonic() < deadline:
        cur.execute("UPDATE counter SET n = n + 1")
        cur.execute("SELECT n FROM counter")
        n = cur.fetchone()[0]
        cur.execute("INSERT INTO a SELECT %s, seq FROM seq_1_to_{K}", (n,))
        cur.execute("INSERT INTO b SELECT %s, MD5(seq) FROM seq_1_to_{K}", (n,))
        conn.commit()
"""


def mariadb_one(database: str, sql: str) -> int:
    admin = mariadb_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"USE `{database}`")
            cur.execute(sql)
            row = cur.fetchone()
    finally:
        admin.close()
    assert row is not None
    return int(row[0])


def test_mariadb_backup_under_concurrent_transactions_is_never_torn(
    make_stack: MakeStack, mariadb_db: str
) -> None:
    admin = mariadb_admin()
    restored = f"seawall_test_{secrets.token_hex(5)}"
    try:
        with admin.cursor() as cur:
            cur.execute(f"USE `{mariadb_db}`")
            cur.execute("CREATE TABLE counter (n INT NOT NULL) ENGINE=InnoDB")
            cur.execute("INSERT INTO counter VALUES (0)")
            cur.execute("CREATE TABLE a (batch INT, i INT) ENGINE=InnoDB")
            cur.execute("CREATE TABLE b (batch INT, body TEXT) ENGINE=InnoDB")
            cur.execute("CREATE TABLE ballast (id INT, body TEXT) ENGINE=InnoDB")
            cur.execute("INSERT INTO ballast SELECT seq, REPEAT(MD5(seq), 4) FROM seq_1_to_200000")
        url = f"mysql://root@127.0.0.1:3306/{mariadb_db}"
        stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
        backup_id, before, after = backup_while_writing(
            stack, MARIADB_WRITER, mariadb_db, lambda: mariadb_one(mariadb_db, "SELECT n FROM counter")
        )
        result = run_restore(stack, backup_id, component="db", to=f"mysql://root@127.0.0.1:3306/{restored}")
        assert result.components[0].fingerprint_ok
        n = mariadb_one(restored, "SELECT n FROM counter")
        assert before <= n <= after
        assert mariadb_one(restored, "SELECT COUNT(*) FROM a") == n * K
        assert mariadb_one(restored, "SELECT COUNT(*) FROM b") == n * K
        assert mariadb_one(restored, "SELECT COUNT(DISTINCT batch) FROM a") == n
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{restored}`")
        admin.close()
