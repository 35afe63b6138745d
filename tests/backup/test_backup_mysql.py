"""MariaDB against the real server: routines, triggers, deep verify, restore, writes during the dump."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pymysql
import pytest

from seawall.backup import BackupResult, create_backup, verify_backup
from seawall.backup import restore as run_restore
from seawall.backup._plan import as_recorded
from seawall.backup.errors import BackupError
from seawall.backup.manifest import Artifact
from seawall.backup.sources import Target
from seawall.backup.sources.mysql import defaults_file
from seawall.backup.sources.mysql_facts import binlog_coordinates
from seawall.cli.__main__ import main
from seawall.config import StackConfig
from seawall.probes.mysql import MysqlTarget

MakeStack = Callable[..., StackConfig]

pytestmark = pytest.mark.integration

SERVER = "mysql://root@127.0.0.1:3306"


def admin(sql: str, database: str | None = None, args: tuple[object, ...] | None = None) -> None:
    conn = pymysql.connect(
        host="127.0.0.1", user="root", database=database, autocommit=True, charset="utf8mb4"
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
    finally:
        conn.close()


@pytest.fixture
def database() -> Iterator[str]:
    """A scratch database with a blob, utf8mb4 text, a trigger and a routine; dropped afterwards."""
    name = f"seawall_test_{secrets.token_hex(5)}"
    admin(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    try:
        admin(
            "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(64), blob_ VARBINARY(32),"
            " note TEXT) ENGINE=InnoDB",
            name,
        )
        admin("CREATE TABLE audit (n INT) ENGINE=InnoDB", name)
        admin("CREATE TABLE batches (batch INT, n INT) ENGINE=InnoDB", name)
        admin(
            "CREATE TRIGGER count_it AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id)",
            name,
        )
        admin("CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2", name)
        conn = pymysql.connect(host="127.0.0.1", user="root", database=name, charset="utf8mb4")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO orders(item, blob_, note) VALUES (%s, UNHEX(MD5(%s)), %s)",
                [(f"item{i}", i, None if i % 9 == 0 else f"emoji 🚀 ü {i}") for i in range(300)],
            )
        conn.commit()
        conn.close()
        yield f"{SERVER}/{name}"
    finally:
        admin(f"DROP DATABASE IF EXISTS {name}")


NewDatabase = Callable[..., str]


@pytest.fixture
def new_database() -> Iterator[NewDatabase]:
    """Databases made by ``make(*statements, options=...)`` (each one's URL); all dropped afterwards."""
    names: list[str] = []

    def make(*statements: str, options: str = "CHARACTER SET utf8mb4") -> str:
        names.append(f"seawall_test_{secrets.token_hex(5)}")
        admin(f"CREATE DATABASE {names[-1]} {options}")
        for sql in statements:
            admin(sql, names[-1])
        return f"{SERVER}/{names[-1]}"

    yield make
    for name in names:
        admin(f"DROP DATABASE IF EXISTS {name}")


NewUser = Callable[[str, str], str]


@pytest.fixture
def new_user() -> Iterator[NewUser]:
    """Users made by ``make(password, privileges)`` (the server URL they log in with); dropped afterwards."""
    names: list[str] = []

    def make(password: str, privileges: str) -> str:
        names.append(f"seawall_test_{secrets.token_hex(5)}")
        admin(f"CREATE USER '{names[-1]}'@'127.0.0.1' IDENTIFIED BY %s", args=(password,))
        admin(f"GRANT {privileges} TO '{names[-1]}'@'127.0.0.1'")
        return f"mysql://{names[-1]}:{quote(password, safe='')}@127.0.0.1:3306"

    yield make
    for name in names:
        admin(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


def query_server(sql: str) -> tuple[object, ...]:
    return query(f"{SERVER}/mysql", sql)


def query(url: str, sql: str) -> tuple[object, ...]:
    name = url.rsplit("/", 1)[1]
    conn = pymysql.connect(host="127.0.0.1", user="root", database=name, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone() or ()
    finally:
        conn.close()


def test_round_trip_deep_verify_and_forced_restore(make_stack: MakeStack, database: str) -> None:
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": database}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert (
        art.fingerprint["tables"]["orders"]["rows"] == 300 and "binlog" in str(art.position)
    ) or art.position
    assert verify_backup(stack, backup.id, deep=True).ok
    admin("DELETE FROM orders WHERE id > 5", database.rsplit("/", 1)[1])
    result = run_restore(stack, backup.id, force=True)
    assert result.safety_backup
    assert result.components[0].fingerprint_ok
    assert query(database, "SELECT COUNT(*) FROM orders") == (300,)
    assert query(database, "SELECT double_it(21)") == (42,)
    assert query(database, "SELECT note FROM orders WHERE id = 2") == ("emoji 🚀 ü 1",)
    admin("INSERT INTO orders(item) VALUES ('after')", database.rsplit("/", 1)[1])
    assert query(database, "SELECT COUNT(*) FROM audit") == (301,)  # the trigger came back


def test_writes_during_the_dump_never_tear_a_transaction(make_stack: MakeStack, database: str) -> None:
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": database}}})
    name = database.rsplit("/", 1)[1]
    stop, started = threading.Event(), threading.Event()

    def write() -> None:
        conn = pymysql.connect(host="127.0.0.1", user="root", database=name)
        batch = 0
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.executemany("INSERT INTO batches VALUES (%s, %s)", [(batch, i) for i in range(50)])
                conn.commit()
                batch += 1
                if batch == 5:
                    started.set()
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(30)
    try:
        backup = create_backup(stack, components=["db"])
    finally:
        stop.set()
        writer.join()
    assert backup.ok, backup.failed
    rows = backup.artifacts[0].fingerprint["tables"]["batches"]["rows"]
    assert rows >= 250
    assert rows % 50 == 0
    # the fingerprint was taken from the dump's own snapshot, so the deep verify matches under writes
    assert verify_backup(stack, backup.id, deep=True).ok


def test_the_password_goes_to_a_0600_file(tmp_path: Path) -> None:
    path = defaults_file("mysql://u:s3cret@127.0.0.1:3306/db", tmp_path)
    assert path.stat().st_mode & 511 == 384
    assert 'password="s3cret"' in path.read_text()


@pytest.mark.skipif(not shutil.which("my_print_defaults"), reason="my_print_defaults is not installed")
def test_the_option_file_gives_the_tools_user_and_password_unchanged(tmp_path: Path) -> None:
    password = 'back\\slash "quoted" #not-a-comment\nhost=evil\r'
    user = quote("us\\er", safe="")
    path = defaults_file(f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:3306/db", tmp_path)
    argv = ["my_print_defaults", f"--defaults-extra-file={path}", "client"]
    read = subprocess.run(argv, capture_output=True, check=True).stdout.decode()  # bytes: keep the \r
    assert read == f"--host=127.0.0.1\n--port=3306\n--user=us\\er\n--password={password}\n"


def test_a_password_with_backslash_quote_and_hash_backs_up_and_restores(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> None:
    url = new_database(
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(8))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
    )
    name = url.rsplit("/", 1)[1]
    server = new_user('back\\slash"quote#hash', f"ALL ON {name}.*")
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": f"{server}/{name}"}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    admin("DELETE FROM t", name)
    assert run_restore(stack, backup.id, force=True).components[0].fingerprint_ok
    assert query(url, "SELECT COUNT(*) FROM t") == (2,)


def test_a_failed_restore_reports_the_client_error_without_the_rows(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> None:
    url = new_database(
        "CREATE TABLE files (id INT PRIMARY KEY, body BLOB)",
        "INSERT INTO files VALUES (1, REPEAT('z', 4000))",
    )
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    to = new_database().rsplit("/", 1)[1]
    server = new_user("pw", f"CREATE, DROP, ALTER, INDEX, SELECT, LOCK TABLES ON {to}.*")  # no INSERT
    with pytest.raises(BackupError) as failed:
        run_restore(stack, backup.id, component="db", to=f"{server}/{to}")
    assert "ERROR 1142" in str(failed.value)  # INSERT command denied
    assert "7A7A7A7A" not in str(failed.value)
    assert "INSERT INTO" not in str(failed.value)


def test_a_row_bigger_than_half_the_servers_packet_limit_fails_to_restore_with_a_hint(
    make_stack: MakeStack, new_database: NewDatabase
) -> None:
    """The dump writes the blob in hex at twice its size: more than the server takes in one packet.

    The server answers ER_NET_PACKET_TOO_LARGE or hangs up (the client says "gone away"): both get the hint.
    """
    limit = int(str(query_server("SELECT @@global.max_allowed_packet")[0]))
    if limit > 32 * 1024 * 1024:
        pytest.skip(f"max_allowed_packet is {limit} here: a row over half of it is too dear to test")
    url = new_database(
        "CREATE TABLE big (id INT PRIMARY KEY, body LONGBLOB)",
        f"INSERT INTO big VALUES (1, REPEAT('b', {limit // 2 + 1024 * 1024}))",
    )
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    with pytest.raises(BackupError) as failed:
        run_restore(stack, backup.id, component="db", to=new_database())
    assert "max_allowed_packet on the server" in str(failed.value.hint)
    assert "6262626262" not in str(failed.value)


DUMP_ONLY = "SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER"  # no RELOAD, no REPLICATION CLIENT


def dump_only_backup(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> tuple[StackConfig, BackupResult]:
    """A one-row database backed up by a user who may dump it and nothing more."""
    url = new_database("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    name = url.rsplit("/", 1)[1]
    server = new_user("pw", f"{DUMP_ONLY} ON {name}.*")
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": f"{server}/{name}"}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    return stack, backup


def test_a_backup_without_binlog_privileges_records_the_position_as_unavailable(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> None:
    _, backup = dump_only_backup(make_stack, new_database, new_user)
    position = backup.artifacts[0].position
    assert position["binlog"] == "unavailable"
    assert position["reason"]


@pytest.mark.parametrize("mariadb", [True, False])
def test_binlog_status_refused_for_want_of_a_privilege_is_a_reason_not_an_error(
    new_database: NewDatabase, new_user: NewUser, mariadb: bool
) -> None:
    """The server checks the privilege before it looks at the binlog: this holds with binary logging off."""
    name = new_database().rsplit("/", 1)[1]
    conn = MysqlTarget.from_url(f"{new_user('pw', f'{DUMP_ONLY} ON {name}.*')}/{name}").connect(10)
    try:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            position = binlog_coordinates(cur, mariadb)
    finally:
        conn.close()
    assert position["binlog"] == "unavailable"
    assert "privilege" in position["reason"]


def schema_collation(url: str) -> tuple[object, ...]:
    return query_server(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
        f" WHERE SCHEMA_NAME = '{url.rsplit('/', 1)[1]}'"
    )


def test_the_databases_collation_is_recorded_and_restored_with_to(
    make_stack: MakeStack, new_database: NewDatabase
) -> None:
    url = new_database(
        "CREATE TABLE t (v VARCHAR(8))", options="CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    assert backup.artifacts[0].position["collation"] == "utf8mb4_unicode_ci"
    to = new_database()  # made with the server's default collation; the restore makes it anew
    assert run_restore(stack, backup.id, component="db", to=to).components[0].fingerprint_ok
    assert schema_collation(to) == ("utf8mb4", "utf8mb4_unicode_ci")
    assert verify_backup(stack, backup.id, deep=True).ok


def test_a_backup_from_before_collations_were_recorded_restores_as_before() -> None:
    old = Artifact("db", "mysql", "db.sql.zst", "sql", 1, 1, "0" * 64, 0.1, position={"binlog": "disabled"})
    target = Target(kind="mysql", url=f"{SERVER}/elsewhere")
    assert as_recorded(target, old) == target


def test_a_myisam_table_is_named_in_a_note(make_stack: MakeStack, new_database: NewDatabase) -> None:
    url = new_database(
        "CREATE TABLE counters (n INT) ENGINE=MyISAM",
        "CREATE TABLE orders (n INT) ENGINE=InnoDB",
        "INSERT INTO counters VALUES (1)",
    )
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    notes = [n for n in backup.artifacts[0].notes if "without transactions" in n]
    assert len(notes) == 1
    assert "MyISAM: counters" in notes[0]
    assert "orders" not in notes[0]


def test_backup_create_prints_a_note_as_the_datastore_wrote_it(
    make_stack: MakeStack, new_database: NewDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_database("CREATE TABLE `log[bold]` (n INT) ENGINE=MyISAM")  # Rich markup, were it not escaped
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": url}}})
    assert main(["-f", str(stack.source), "backup", "create", "-c", "db"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("! db: ")]
    assert len(notes) == 1
    assert "tables without transactions" in notes[0]
    assert "(MyISAM: log[bold])" in notes[0]


def test_a_user_with_reload_but_not_process_backs_up_with_a_note_naming_process(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> None:
    """Seeing the dump's snapshot open reads INNODB_TRX, which needs PROCESS: without it no lock is taken
    and the note says why (with binary logging on, MariaDB's dump says when instead: see the binlog tests)."""
    url = new_database("CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    name = url.rsplit("/", 1)[1]
    server = new_user("pw", "RELOAD ON *.*")
    admin(f"GRANT {DUMP_ONLY} ON {name}.* TO '{server.split('//')[1].split(':')[0]}'@'127.0.0.1'")
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": f"{server}/{name}"}}})
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    art = backup.artifacts[0]
    assert [n for n in art.notes if n.startswith("no global read lock") and "PROCESS" in n], art.notes
    assert art.position == {
        "binlog": "unavailable",
        "reason": "binary logging is off on the server (log_bin)",
        "character_set": "utf8mb4",
        "collation": str(schema_collation(url)[1]),
    }


def test_a_deep_verify_the_user_may_not_create_a_database_for_fails_readably(
    make_stack: MakeStack, new_database: NewDatabase, new_user: NewUser
) -> None:
    """The scratch database is refused; dropping it afterwards is refused too, and must not hide the
    first refusal behind a traceback."""
    stack, backup = dump_only_backup(make_stack, new_database, new_user)
    result = verify_backup(stack, backup.id, deep=True)
    assert not result.ok
    (check,) = result.checks
    assert "Access denied" in check.detail
    assert "seawall_verify_" in check.detail
