"""The snapshot a MariaDB backup stands for, on private servers.

With binary logging on, the binlog file, position and GTID recorded are those of the dump's own snapshot,
proven by point-in-time recovery under concurrent writes, whatever the backup user may do. With it off,
the dump's snapshot is seen open in INNODB_TRX, even when its session is slow to start. Also, without a
server: how the dump's position is read from its output, and which coordinates are recorded when the dump
cannot give them."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pymysql
import pytest
import zstandard

from _helpers import Mariadb, wait_for
from seawall.backup import create_backup, verify_backup
from seawall.backup.create import BackupResult
from seawall.backup.sources import Target
from seawall.backup.sources._head import Rest
from seawall.backup.sources.mysql import MysqlDatastore, _read_head, _Snapshot
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
MariadbServer = Callable[..., Mariadb]

ROWS = 20  # per transaction of the writer
DUMP_ONLY = "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES"


@pytest.fixture(scope="module")
def server(mariadb_server: MariadbServer) -> Mariadb:
    """One private server with binary logging for the module (its start costs a few seconds)."""
    return mariadb_server(binlog=True)


@pytest.fixture
def shop(server: Mariadb) -> Iterator[str]:
    """A database on the private server with the writer's tables; dropped afterwards. Its name."""
    name = f"shop_{secrets.token_hex(4)}"
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            cur.execute(f"USE {name}")
            # a transaction applied twice breaks the key, one missed changes the fingerprint
            cur.execute("CREATE TABLE batches (batch INT, n INT, PRIMARY KEY (batch, n)) ENGINE=InnoDB")
            cur.execute("CREATE TABLE counter (id INT PRIMARY KEY, batches INT) ENGINE=InnoDB")
            cur.execute("INSERT INTO counter VALUES (1, 0)")
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


@contextlib.contextmanager
def writing(server: Mariadb, database: str) -> Iterator[None]:
    """Transactions committed one after another by another session while the block runs: each inserts
    ROWS rows of its own batch and counts itself. Some are committed before the block's body starts, and
    some after it ends."""
    committed = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        nonlocal committed
        try:
            conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", database=database)
            with conn.cursor() as cur:
                while not stop.is_set():
                    batch = committed
                    cur.executemany("INSERT INTO batches VALUES (%s, %s)", [(batch, n) for n in range(ROWS)])
                    cur.execute("UPDATE counter SET batches = batches + 1")
                    conn.commit()
                    committed += 1
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write, name="writer")
    writer.start()
    try:
        wait_for(lambda: committed >= 5 or errors, timeout=30, what="the writer's first transactions")
        yield
        after = committed
        wait_for(lambda: committed >= after + 5 or errors, timeout=30, what="transactions after the backup")
    finally:
        stop.set()
        writer.join()
    assert not errors, errors


def sql(server: Mariadb, statement: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    """The first row of ``statement`` run as root on the private server."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchone() or ()
    finally:
        conn.close()


def fingerprint(server: Mariadb, database: str) -> dict[str, Any]:
    return MysqlDatastore().fingerprint(Target(kind="mysql", url=f"{server.url}/{database}"))


def binlog_files(server: Mariadb, first: str, last: str) -> list[str]:
    """The paths of the server's binlog files from ``first`` to ``last``, in order."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW BINARY LOGS")
            names = [str(row[0]) for row in cur.fetchall()]
    finally:
        conn.close()
    return [str(server.directory / name) for name in names[names.index(first) : names.index(last) + 1]]


def gtids(*argv: str) -> list[str]:
    """The GTIDs of the event groups mariadb-binlog lists with ``argv``, in order."""
    listing = subprocess.run(
        ["mariadb-binlog", *argv], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return re.findall(r"^#.*\tGTID (\d+-\d+-\d+)", listing, re.MULTILINE)


def backup_under_writes(
    make_stack: MakeStack, server: Mariadb, database: str, url: str
) -> tuple[StackConfig, BackupResult]:
    """A backup of ``database`` through ``url`` (a server URL) while another session commits."""
    stack = make_stack({"db": {"datastore": {"kind": "mysql", "url": f"{url}/{database}"}}})
    with writing(server, database):
        backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    return stack, backup


def load(stack: StackConfig, backup: BackupResult, server: Mariadb, database: str) -> None:
    """The backup's dump into a new ``database``, by the datastore (a restore would also compare
    fingerprints, which only a locked backup can promise under writes)."""
    art = backup.artifacts[0]
    target = Target(kind="mysql", url=f"{server.url}/{database}", extra=dict(art.position))
    plain = stack.root / "dump.sql"  # the client reads a file, not a Python stream
    with (
        (stack.root / "repo" / stack.stack / backup.id / art.file).open("rb") as stored,
        plain.open("wb") as out,
    ):
        zstandard.ZstdDecompressor().copy_stream(stored, out)
    with plain.open("rb") as dump:
        MysqlDatastore().restore(dump, target, stack.root)


def point_in_time_recovery(stack: StackConfig, server: Mariadb, database: str, backup: BackupResult) -> bool:
    """Load the backup, replay the binlog from its recorded position, and check that this gives exactly
    the live database. Whether the loaded data had the fingerprint the backup recorded.

    A position before the dump's snapshot replays transactions the dump holds (a duplicate key stops the
    replay); one after it skips some (the fingerprint differs). The GTID must name the same point.
    """
    position = backup.artifacts[0].position
    file, pos, gtid = position["binlog_file"], position["binlog_pos"], position["gtid"]
    end_file, end_pos = sql(server, "SHOW BINLOG STATUS")[:2]
    live = fingerprint(server, database)
    assert sql(server, "SELECT BINLOG_GTID_POS(%s, %s)", (file, pos)) == (gtid,)
    files = binlog_files(server, file, str(end_file))
    after = gtids(f"--start-position={pos}", f"--stop-position={end_pos}", *files)
    assert after, "no transaction was committed after the snapshot: the test proves nothing"
    assert gtids(f"--start-position={gtid}", *files)[: len(after)] == after

    load(stack, backup, server, database)  # drops the live database first
    assert sql(server, f"SELECT COUNT(*) FROM {database}.batches")[0], "nothing was written before the backup"
    as_recorded = fingerprint(server, database) == backup.artifacts[0].fingerprint
    replay = subprocess.run(
        f"mariadb-binlog --start-position={pos} --stop-position={end_pos} {' '.join(files)}"
        f" | mariadb --protocol=TCP -h 127.0.0.1 -P {server.port} -u root --binary-mode",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    assert fingerprint(server, database) == live
    return as_recorded


@pytest.mark.integration
def test_the_dumps_snapshot_is_seen_open_when_its_session_starts_late(
    make_stack: MakeStack, mariadb_server: MariadbServer
) -> None:
    """The dump's session is there (its port) before its transaction: here half a second before, as on a
    loaded server. InnoDB refills INNODB_TRX only when no one has read it for 0.1 s: polled faster, it kept
    its first answer, and the global read lock held writers for the whole 30 s deadline."""
    server = mariadb_server()  # binary logging off: the dump does not say when its snapshot is open
    sql(server, "CREATE DATABASE shop")
    sql(server, "CREATE TABLE shop.t (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB")
    # more than a pipe holds: the dump cannot end before the wait is over (it is read only after)
    sql(server, "INSERT INTO shop.t SELECT seq, REPEAT('x', 100) FROM shop.seq_1_to_5000")
    sql(server, "CREATE USER 'backup'@'127.0.0.1' IDENTIFIED BY 'pw'")
    sql(server, f"GRANT {DUMP_ONLY}, RELOAD, PROCESS ON *.* TO 'backup'@'127.0.0.1'")
    sql(server, "SET GLOBAL init_connect = 'DO SLEEP(0.5)'")  # for every session but an admin's
    stack = make_stack(
        {"db": {"datastore": {"kind": "mysql", "url": f"mysql://backup:pw@127.0.0.1:{server.port}/shop"}}}
    )
    started = time.monotonic()
    backup = create_backup(stack, components=["db"])
    assert backup.ok, backup.failed
    assert backup.artifacts[0].notes == []
    assert time.monotonic() - started < 10


@pytest.mark.integration
def test_a_backup_under_writes_records_the_binlog_and_gtid_of_its_snapshot(
    make_stack: MakeStack, server: Mariadb, shop: str
) -> None:
    stack, backup = backup_under_writes(make_stack, server, shop, server.url)
    position = backup.artifacts[0].position
    assert position["binlog_file"].startswith("binlog.")
    assert position["gtid"].startswith("0-1-")
    assert verify_backup(stack, backup.id, deep=True).ok
    assert point_in_time_recovery(stack, server, shop, backup)


NewUser = Callable[[str], str]


@pytest.fixture
def new_user(server: Mariadb) -> Iterator[NewUser]:
    """Users of the private server made by ``make(global_privileges)``, each also allowed what a dump
    needs on every database; the server URL they log in with. Dropped afterwards."""
    names: list[str] = []

    def make(privileges: str) -> str:
        names.append(f"backup_{secrets.token_hex(4)}")
        sql(server, f"CREATE USER '{names[-1]}'@'127.0.0.1' IDENTIFIED BY 'pw'")
        sql(server, f"GRANT {DUMP_ONLY}{privileges} ON *.* TO '{names[-1]}'@'127.0.0.1'")
        return f"mysql://{names[-1]}:pw@127.0.0.1:{server.port}"

    yield make
    for name in names:
        sql(server, f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


@pytest.mark.integration
@pytest.mark.parametrize(
    "privileges",
    ["", ", RELOAD", ", RELOAD, BINLOG MONITOR", ", RELOAD, PROCESS", ", RELOAD, PROCESS, BINLOG MONITOR"],
    ids=["no-reload", "reload", "reload-binlog-monitor", "reload-process", "reload-process-binlog-monitor"],
)
def test_a_least_privilege_user_records_the_coordinates_of_the_dumps_snapshot(
    make_stack: MakeStack, server: Mariadb, shop: str, new_user: NewUser, privileges: str
) -> None:
    """Whatever the user may do, the coordinates recorded are the dump's: MariaDB's dump tool reads them
    from its own snapshot, which needs no privilege."""
    stack, backup = backup_under_writes(make_stack, server, shop, new_user(privileges))
    notes = backup.artifacts[0].notes
    locked = "RELOAD" in privileges
    if locked:  # neither PROCESS nor BINLOG MONITOR is needed when the dump says where its snapshot is
        assert notes == []
    else:
        assert [n for n in notes if n.startswith("no global read lock")], notes
    as_recorded = point_in_time_recovery(stack, server, shop, backup)
    assert as_recorded or not locked  # under the lock, the fingerprint is of the dump's snapshot


HEADER = b"-- MariaDB dump 10.19\n--\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n\n" * 20
POSITION = b"-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000042', MASTER_LOG_POS=123456;\n"


def test_the_dumps_position_is_read_from_its_output_which_then_passes_on_whole() -> None:
    """The position may arrive cut anywhere; what was read to find it is given back first."""
    body = b"--\n-- Table structure for table `t`\n" + os.urandom(300_000)
    whole = HEADER + POSITION + body
    cut = len(HEADER) + len(POSITION) - 12  # in the middle of the offset's digits
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(whole[:cut])
            out.flush()
            time.sleep(0.05)
            out.write(whole[cut:])

    writer = threading.Thread(target=write)
    writer.start()
    with os.fdopen(read_fd, "rb") as stream:
        head, position, unseen = _read_head(stream, time.monotonic() + 10)
        assert (position, unseen) == (("binlog.000042", 123456), None)
        assert POSITION in head
        prefixed = Rest(head, stream)
        parts = [prefixed.read(1000)]
        while part := prefixed.read(65536):
            parts.append(part)
    writer.join()
    assert b"".join(parts) == whole


def test_a_dump_that_writes_no_position_in_time_is_not_seen_and_one_that_ends_is() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, HEADER)
    with os.fdopen(read_fd, "rb") as stream:
        started = time.monotonic()
        head, position, unseen = _read_head(stream, started + 0.2)
        assert time.monotonic() - started < 5
        assert (head, position) == (HEADER, None)
        assert "no binlog position" in (unseen or "")
        os.close(write_fd)  # it ran to the end: no position, but nothing happened after its snapshot
        assert _read_head(stream, time.monotonic() + 10) == (b"", None, None)


OURS = {"binlog_file": "binlog.000001", "binlog_pos": 400, "gtid": "0-1-7"}


@pytest.mark.parametrize(
    ("locked", "unseen", "ours", "recorded"),
    [
        (True, None, OURS, OURS),
        (False, None, {}, "no global read lock"),  # ours are not read without the lock
        (True, "not within 30 s", OURS, "not seen open under the global read lock (not within 30 s)"),
        (True, None, {"binlog": "unavailable", "reason": "SHOW BINLOG STATUS: denied"}, "denied"),
    ],
    ids=["locked-and-seen", "not-locked", "not-seen", "refused"],
)
def test_our_own_coordinates_are_recorded_only_when_the_dump_shares_our_snapshot(
    locked: bool, unseen: str | None, ours: dict[str, Any], recorded: Any
) -> None:
    """Where the dump does not write its coordinates (MySQL, or Oracle's mysqldump), ours are read under
    the lock: they are the dump's only if its snapshot was seen open before the lock was let go."""
    snapshot = _Snapshot(binlog=True, from_dump=False, locked=locked, ours=ours, unseen=unseen)
    position = snapshot.position(cast(Any, None))
    if isinstance(recorded, dict):
        assert position == recorded
    else:
        assert position["binlog"] == "unavailable"
        assert recorded in position["reason"]
