"""MariaDB/MySQL: mariadb-dump (or mysqldump) in one transaction, routines, triggers, events, hex blobs.

The password goes to the tools in a 0600 ``--defaults-extra-file``, never argv or MYSQL_PWD.
For a fingerprint of the very snapshot the dump reads, a brief global read lock is held while
both our session and the dump's open their consistent snapshots; writers wait for that moment only.
"""

from __future__ import annotations

import os
import re
import secrets
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
from seawall.backup.procs import Proc, find_tool
from seawall.backup.sources._scratch import PREFIX, scratch_name, stale
from seawall.backup.sources.base import DumpInfo, Target
from seawall.backup.sources.mysql_facts import describe, positions
from seawall.backup.sources.mysql_tools import dump_tool
from seawall.probes.mysql import MysqlTarget
from seawall.probes.redact import redact, secrets_of

if TYPE_CHECKING:
    from typing import TypeAlias

    Conn: TypeAlias = pymysql.connections.Connection[pymysql.cursors.Cursor]
_SNAPSHOT_WAIT = 30.0
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


def _wait_for_dump_snapshot(conn: Conn, proc: subprocess.Popen[bytes]) -> bool:
    """True once the dump's session (found by its TCP port) has an open transaction, or it is done."""
    deadline = time.monotonic() + _SNAPSHOT_WAIT
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return True  # it ran to the end while writers waited: its snapshot is ours
            try:
                ports = {c.laddr.port for c in psutil.Process(proc.pid).net_connections("tcp") if c.raddr}
            except psutil.Error:
                ports = set()
            if ports:
                cur.execute(
                    "SELECT t.trx_id FROM information_schema.INNODB_TRX t"
                    " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE "
                    + " OR ".join(["p.HOST LIKE %s"] * len(ports)),
                    [f"%:{port}" for port in ports],
                )
                if cur.fetchone():
                    return True
            time.sleep(0.005)
    return False


@dataclass
class _MysqlDump:
    proc: Proc
    info: DumpInfo
    size_hint: int | None
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    @property
    def stream(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def finish(self) -> DumpInfo:
        self.proc.finish()
        if self.thread is not None:
            self.thread.join()
        if self.errors:
            raise BackupError(f"MySQL fingerprint failed: {self.errors[0]}")
        return self.info


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
                cur.execute("SET SESSION lock_wait_timeout = 30")
                try:
                    cur.execute("FLUSH TABLES WITH READ LOCK")
                    locked = True
                except pymysql.MySQLError as exc:
                    locked = False
                    notes.append(
                        f"no global read lock ({exc.args[-1]}): fingerprint and binlog position are"
                        " from a separate snapshot"
                    )
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                position = {**positions(conn, source.mariadb), **source.schema}
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
                *tool_options,
                database,
            ]
            info = DumpInfo(
                format="sql",
                tool_versions={os.path.basename(tool): tool_version},
                server_version=source.version,
                position=position,
                notes=notes,
            )
            with Proc(argv, secrets=secrets_of(target.url)) as proc:
                if locked:
                    if not _wait_for_dump_snapshot(conn, proc.popen):
                        notes.append(
                            "could not see the dump's snapshot open: fingerprint may differ under writes"
                        )
                    with conn.cursor() as cur:
                        cur.execute("UNLOCK TABLES")
                dump = _MysqlDump(proc, info, source.size)

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
