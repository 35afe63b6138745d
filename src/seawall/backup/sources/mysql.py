"""MariaDB/MySQL: mariadb-dump (or mysqldump) in one transaction, routines, triggers, events, hex blobs.

The password goes to the tools in a 0600 ``--defaults-extra-file``, never argv or MYSQL_PWD.
For a fingerprint of the very snapshot the dump reads, a brief global read lock is held while
both our session and the dump's open their consistent snapshots; writers wait for that moment only.
The binlog coordinates recorded are those of the dump's snapshot: on MariaDB the dump writes them itself.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import psutil
import pymysql

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import Readable
from seawall.backup.procs import Proc, find_tool
from seawall.backup.sources._head import Rest
from seawall.backup.sources._scratch import PREFIX, scratch_name, stale
from seawall.backup.sources.base import DumpInfo, Target
from seawall.backup.sources.mysql_facts import (
    BINLOG_OFF,
    binlog_enabled,
    describe,
    dumped_position,
    gtid_at,
    positions,
    unavailable,
)
from seawall.backup.sources.mysql_tools import dump_tool, oracle_major
from seawall.probes.mysql import MysqlTarget
from seawall.probes.redact import redact, secrets_of

if TYPE_CHECKING:
    from typing import TypeAlias

    Conn: TypeAlias = pymysql.connections.Connection[pymysql.cursors.Cursor]
_SNAPSHOT_WAIT = 30.0
# InnoDB fills INNODB_TRX afresh only when no one has read it for 0.1 s: asked more often, it would show
# the transactions of the first read, without the dump's, until the deadline
_TRX_REFRESH = 0.12
# mariadb-dump writes its binlog position right after a header of about 1 KiB
_HEAD_LIMIT = 64 * 1024
# in batch mode the client echoes the failing statement to stderr, row values and all: keep its own lines
_CLIENT_MESSAGES = re.compile(rb"ERROR \d+ |(?:mariadb|mysql): ")
# ER_NET_PACKET_TOO_LARGE, and the "server has gone away" of a client whose packet the server cut off
_PACKET_REFUSED = ("ERROR 1153 ", "ERROR 2006 ")
_PACKET_HINT = (
    "a statement of the dump (a row with a large BLOB or TEXT, written in hex at twice its size) is"
    " bigger than the server's max_allowed_packet: raise max_allowed_packet on the server (SET GLOBAL,"
    " or its config file) to at least twice the largest row and restore again"
)


def _error(exc: Exception, url: str, doing: str) -> BackupError:
    return BackupError(f"MySQL {doing}: {redact(str(exc), secrets_of(url))}")


def _connect(url: str, database: str | None = None, *, use_db: bool = True) -> Conn:
    try:
        return MysqlTarget.from_url(url).connect(
            10, database=(database or True) if use_db else False, autocommit=True, bounded_io=False
        )
    except pymysql.MySQLError as exc:
        raise _error(exc, url, "connection failed") from exc


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _name(word: str) -> str:
    """A character set or collation name, refused unless it is one word (it comes from a manifest)."""
    if not word.isidentifier():
        raise BackupError(f"{word!r} is not a MySQL character set or collation name")
    return word


# the option-file parser reads these escapes inside a quoted value; a raw newline would end the
# value there and let the rest of a password be read as an option of its own
_OPTION_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def option_value(text: str) -> str:
    """``text`` as a double-quoted option-file value that the client tools read back unchanged."""
    return '"' + text.translate(_OPTION_ESCAPES) + '"'


def defaults_file(url: str, directory: Path) -> Path:
    """A 0600 option file with the connection settings and the password."""
    t = MysqlTarget.from_url(url)
    path = directory / f"client-{secrets.token_hex(4)}.cnf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    values = {"host": t.host, "port": str(t.port), "user": t.user, "password": t.password}
    text = "[client]\n" + "".join(f"{key}={option_value(value)}\n" for key, value in values.items())
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def fingerprint_db(conn: Conn, database: str) -> dict[str, Any]:
    """Per base table: row count and an order-independent sum of 64-bit row hashes."""
    tables: dict[str, Any] = {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
            " AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        for (table,) in cur.fetchall():
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
                " AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            cols = ", ".join(f"QUOTE({_q(c)})" for (c,) in cur.fetchall())
            cur.execute(
                "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', "
                f"{cols})), 1, 16), 16, 10) AS DECIMAL(65, 0))), 0) FROM {_q(database)}.{_q(table)}"
            )
            count, total = cur.fetchone() or (0, 0)
            tables[table] = {"rows": int(count), "hash": str(int(total))}
    return {"tables": tables}


def _wait_for_dump_snapshot(conn: Conn, proc: subprocess.Popen[bytes]) -> str | None:
    """Wait until the dump's session (found by its TCP port) has an open transaction, or it is done; None
    then, else why it was not seen."""
    deadline = time.monotonic() + _SNAPSHOT_WAIT
    asked = 0.0
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return None  # it ran to the end while writers waited: its snapshot is ours
            if time.monotonic() - asked < _TRX_REFRESH:
                time.sleep(0.005)
                continue
            try:
                ports = {c.laddr.port for c in psutil.Process(proc.pid).net_connections("tcp") if c.raddr}
            except psutil.Error:
                ports = set()
            if ports:
                try:
                    cur.execute(
                        "SELECT t.trx_id FROM information_schema.INNODB_TRX t"
                        " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE "
                        + " OR ".join(["p.HOST LIKE %s"] * len(ports)),
                        [f"%:{port}" for port in ports],
                    )
                except pymysql.MySQLError as exc:  # PROCESS, seen before the lock, revoked since
                    return f"INNODB_TRX: {exc.args[-1]}"
                if cur.fetchone():
                    return None
                asked = time.monotonic()
    return f"not within {_SNAPSHOT_WAIT:g} s"


def _read_head(stream: IO[bytes], deadline: float) -> tuple[bytes, tuple[str, int] | None, str | None]:
    """The start of mariadb-dump's output up to the binlog position it writes once its snapshot is open,
    that position, and why the snapshot was not seen open (None: it was, or the dump ran to its end).

    Read from the pipe itself, so that the wait has a deadline; ``stream``'s own buffer stays unused.
    """
    fd = stream.fileno()
    ready = select.poll()  # not select(): a busy process may have descriptors past FD_SETSIZE
    ready.register(fd, select.POLLIN)
    head = b""
    while (found := dumped_position(head)) is None:
        if len(head) >= _HEAD_LIMIT:
            return head, None, f"mariadb-dump wrote no binlog position in its first {_HEAD_LIMIT // 1024} KiB"
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not ready.poll(remaining * 1000):
            return head, None, f"no binlog position from mariadb-dump within {_SNAPSHOT_WAIT:g} s"
        chunk = os.read(fd, _HEAD_LIMIT - len(head))
        if not chunk:
            return head, None, None  # it ended (or failed, which finish() reports) while writers waited
        head += chunk
    return head, found, None


@dataclass
class _Snapshot:
    """How the dump's snapshot relates to ours: seen open under the global read lock or not, and where the
    binlog coordinates come from."""

    binlog: bool  # the server writes a binary log
    from_dump: bool  # MariaDB's dump tool writes the coordinates of its own snapshot
    locked: bool  # our session holds the global read lock
    ours: dict[str, Any]  # the coordinates of our snapshot, read under the lock (only then, if not from_dump)
    head: bytes = b""
    dumped: tuple[str, int] | None = None
    unseen: str | None = None  # why the dump's snapshot was not seen open under the lock

    def wait(self, conn: Conn, proc: Proc) -> None:
        """Until the dump's snapshot is open (or a deadline); the head of its output is kept."""
        if self.from_dump:
            assert proc.stdout is not None
            self.head, self.dumped, self.unseen = _read_head(proc.stdout, time.monotonic() + _SNAPSHOT_WAIT)
        elif self.locked:
            self.unseen = _wait_for_dump_snapshot(conn, proc.popen)

    def position(self, conn: Conn) -> dict[str, Any]:
        """The binlog file, position and GTID of the dump's snapshot, or why there are none."""
        if not self.binlog:
            return unavailable(BINLOG_OFF)
        if self.from_dump:
            if self.dumped is None:
                return unavailable(self.unseen or "mariadb-dump wrote no binlog position")
            file, pos = self.dumped
            with conn.cursor() as cur:
                gtid = gtid_at(cur, file, pos)
            return {"binlog_file": file, "binlog_pos": pos, **({"gtid": gtid} if gtid is not None else {})}
        if not self.locked:
            return unavailable(
                "no global read lock: the dump's snapshot cannot be tied to binlog coordinates"
            )
        if self.unseen:
            return unavailable(
                f"the dump's snapshot was not seen open under the global read lock ({self.unseen})"
            )
        return self.ours  # or why they could not be read


@dataclass
class _MysqlDump:
    proc: Proc
    info: DumpInfo
    size_hint: int | None
    stream: Readable
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def finish(self) -> DumpInfo:
        self.proc.finish()
        if self.thread is not None:
            self.thread.join()
        if self.errors:
            raise BackupError(f"MySQL fingerprint failed: {self.errors[0]}")
        return self.info


def _global_read_lock(cur: pymysql.cursors.Cursor, notes: list[str], *, watch: bool) -> bool:
    """Take the global read lock (RELOAD); without it a note says the fingerprint is another snapshot's.

    ``watch``: the dump's snapshot is to be seen open in INNODB_TRX, which needs PROCESS; without that
    the lock would be held for nothing.
    """
    try:
        if watch:
            # needs PROCESS as INNODB_TRX does, without reading INNODB_TRX (that would delay its next refresh)
            cur.execute("SELECT COUNT(*) FROM information_schema.INNODB_METRICS")
    except pymysql.MySQLError as exc:
        why = f"the dump's snapshot cannot be seen open without the PROCESS privilege: {exc.args[-1]}"
    else:
        cur.execute("SET SESSION lock_wait_timeout = 30")
        try:
            cur.execute("FLUSH TABLES WITH READ LOCK")
            return True
        except pymysql.MySQLError as exc:
            why = str(exc.args[-1])
    notes.append(f"no global read lock ({why}): the fingerprint is from a separate snapshot")
    return False


class MysqlDatastore:
    """One database per datastore, dumped without CREATE DATABASE so it restores under any name."""

    kind = "mysql"
    extension = ".sql"

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[_MysqlDump]:
        """Snapshot under a brief global read lock, then the dump streams while writes go on."""
        assert target.url is not None
        database = MysqlTarget.from_url(target.url).database
        if not database:
            raise BackupError("the MySQL URL names no database to back up")
        cnf = defaults_file(target.url, staging)
        conn = _connect(target.url)
        notes: list[str] = []
        try:
            with conn.cursor() as cur:
                source = describe(cur)
                notes += source.notes
                tool, tool_version, tool_options = dump_tool(source.mariadb)
                binlog = binlog_enabled(cur)
                from_dump = binlog and source.mariadb and oracle_major(tool_version) is None
                locked = _global_read_lock(cur, notes, watch=not from_dump)
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            ours = positions(conn, source.mariadb) if binlog and locked and not from_dump else {}
            snapshot = _Snapshot(binlog, from_dump, locked, ours)
            argv = [
                tool,
                f"--defaults-extra-file={cnf}",
                "--single-transaction",
                "--routines",
                "--triggers",
                "--events",
                "--hex-blob",
                "--default-character-set=utf8mb4",
                "--skip-lock-tables",
                "--protocol=TCP",
                *(["--master-data=2"] if from_dump else []),
                *tool_options,
                database,
            ]
            with Proc(argv, secrets=secrets_of(target.url)) as proc:
                snapshot.wait(conn, proc)
                if locked:
                    with conn.cursor() as cur:
                        cur.execute("UNLOCK TABLES")
                    if snapshot.unseen:
                        notes.append(
                            f"could not see the dump's snapshot open ({snapshot.unseen}):"
                            " the fingerprint may differ under writes"
                        )
                info = DumpInfo(
                    format="sql",
                    tool_versions={os.path.basename(tool): tool_version},
                    server_version=source.version,
                    position={**snapshot.position(conn), **source.schema},
                    notes=notes,
                )
                assert proc.stdout is not None
                dump = _MysqlDump(proc, info, source.size, Rest(snapshot.head, proc.stdout))

                def run() -> None:
                    try:
                        info.fingerprint.update(fingerprint_db(conn, database))
                    except BaseException as exc:
                        dump.errors.append(exc)

                dump.thread = threading.Thread(target=run, name="seawall-mysql-fingerprint", daemon=True)
                dump.thread.start()
                yield dump
        except pymysql.MySQLError as exc:
            raise _error(exc, target.url, "dump failed") from exc
        finally:
            conn.close()
            cnf.unlink(missing_ok=True)

    def _recreate(self, target: Target) -> str:
        """Drop and create the database, with the character set and collation the backup recorded
        (a backup from before they were recorded: those of the database there, else utf8mb4)."""
        assert target.url is not None
        database = MysqlTarget.from_url(target.url).database
        if not database:
            raise BackupError("the MySQL URL names no database to restore into")
        recorded = (target.extra.get("character_set"), target.extra.get("collation"))
        with _connect(target.url, use_db=False) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM"
                " information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                (database,),
            )
            row = recorded if all(recorded) else cur.fetchone() or ("utf8mb4", "utf8mb4_general_ci")
            charset, collation = (_name(str(value)) for value in row)
            cur.execute(f"DROP DATABASE IF EXISTS {_q(database)}")
            cur.execute(f"CREATE DATABASE {_q(database)} CHARACTER SET {charset} COLLATE {collation}")
        return database

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """A fresh database, then the client replays the dump, stopping at the first error."""
        assert target.url is not None
        try:
            database = self._recreate(target)
        except pymysql.MySQLError as exc:
            raise _error(exc, target.url, "restore failed") from exc
        tool = find_tool("mariadb", "mysql")
        cnf = defaults_file(target.url, staging)
        argv = [
            tool,
            f"--defaults-extra-file={cnf}",
            "--binary-mode",
            "--default-character-set=utf8mb4",
            "--max-allowed-packet=1G",  # the client's own limit; the server's is its own
            "--protocol=TCP",
            database,
        ]
        try:
            with Proc(
                argv, stdin=stream, stdout=None, secrets=secrets_of(target.url), keep=_CLIENT_MESSAGES
            ) as proc:
                proc.finish()
        except BackupError as exc:
            if any(code in exc.message for code in _PACKET_REFUSED):
                raise BackupError(exc.message, hint=_PACKET_HINT) from exc
            raise
        finally:
            cnf.unlink(missing_ok=True)
        return []

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Row counts and content hashes of every base table."""
        assert target.url is not None
        database = MysqlTarget.from_url(target.url).database or ""
        try:
            with _connect(target.url) as conn:
                return fingerprint_db(conn, database)
        except pymysql.MySQLError as exc:
            raise _error(exc, target.url, "fingerprint failed") from exc

    def is_empty(self, target: Target) -> bool:
        """The database does not exist or holds no tables."""
        assert target.url is not None
        database = MysqlTarget.from_url(target.url).database
        with _connect(target.url, use_db=False) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (database,))
            row = cur.fetchone()
        return not row or int(row[0]) == 0

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A new database on the same server, dropped afterwards (and leftovers of killed runs first)."""
        assert like.url is not None
        from urllib.parse import urlsplit, urlunsplit

        try:
            with _connect(like.url, use_db=False) as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                    (PREFIX + "%",),
                )
                for old in stale(str(row[0]) for row in cur.fetchall()):
                    cur.execute(f"DROP DATABASE IF EXISTS {_q(old)}")
        except pymysql.MySQLError as exc:
            raise _error(exc, like.url, "scratch database failed") from exc
        name = scratch_name()
        url = urlunsplit(urlsplit(like.url)._replace(path="/" + name))
        try:
            yield Target(kind="mysql", url=url, extra={**like.extra, "scratch": True})
        except BaseException:
            # a user who may not create it may not drop it either: that refusal must not hide the first
            # (the next scratch sweeps a database left behind)
            with suppress(BackupError):
                _drop(like.url, name)
            raise
        _drop(like.url, name)


def _drop(url: str, database: str) -> None:
    """DROP DATABASE IF EXISTS on the server of ``url`` (BackupError if refused)."""
    try:
        with _connect(url, use_db=False) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {_q(database)}")
    except pymysql.MySQLError as exc:
        raise _error(exc, url, f"could not drop {database}") from exc
