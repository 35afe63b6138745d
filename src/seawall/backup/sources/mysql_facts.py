"""What a MySQL backup records of its source beside the data: server, size, schema defaults, binlog."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql

if TYPE_CHECKING:
    from typing import TypeAlias

    Conn: TypeAlias = pymysql.connections.Connection[pymysql.cursors.Cursor]


@dataclass(frozen=True, slots=True)
class Source:
    """The server and the database a dump reads."""

    version: str
    size: int | None  # bytes of table data, for progress
    schema: dict[str, str]  # character_set and collation: the dump holds no CREATE DATABASE to carry them
    notes: list[str]

    @property
    def mariadb(self) -> bool:
        """MariaDB rather than MySQL."""
        return "mariadb" in self.version.lower()


def describe(cur: pymysql.cursors.Cursor) -> Source:
    """The source of the session's current database."""
    cur.execute(
        "SELECT VERSION(), (SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = DATABASE()), s.DEFAULT_CHARACTER_SET_NAME, s.DEFAULT_COLLATION_NAME"
        " FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME = DATABASE()"
    )
    version, size, charset, collation = cur.fetchone() or ("", None, None, None)
    schema = {"character_set": str(charset), "collation": str(collation)} if collation else {}
    return Source(str(version), int(size) if size else None, schema, _outside_the_snapshot(cur))


def _outside_the_snapshot(cur: pymysql.cursors.Cursor) -> list[str]:
    """A note naming the tables of engines without transactions: --single-transaction cannot hold them
    still, so each is dumped (and fingerprinted) as it is when it is reached."""
    cur.execute(
        "SELECT t.ENGINE, t.TABLE_NAME FROM information_schema.TABLES t"
        " LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE"
        " WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'"
        " AND COALESCE(e.TRANSACTIONS, 'NO') <> 'YES' ORDER BY t.ENGINE, t.TABLE_NAME"
    )
    by_engine: dict[str, list[str]] = {}
    for engine, table in cur.fetchall():
        by_engine.setdefault(str(engine), []).append(str(table))
    if not by_engine:
        return []
    named = "; ".join(f"{engine}: {_listed(tables)}" for engine, tables in by_engine.items())
    return [
        f"tables without transactions are not in the dump's consistent snapshot ({named}):"
        " writes during the backup can leave them out of step with the rest and with the fingerprint"
    ]


def _listed(names: list[str], most: int = 10) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


# SHOW MASTER STATUS was renamed: MariaDB 10.5.2 has SHOW BINLOG STATUS, MySQL 8.2 SHOW BINARY LOG
# STATUS (8.4 dropped the old name); a server that does not know a name answers with a syntax error
_STATUS_STATEMENTS = ("SHOW BINLOG STATUS", "SHOW BINARY LOG STATUS", "SHOW MASTER STATUS")
_ER_PARSE_ERROR = 1064


def unavailable(reason: str) -> dict[str, Any]:
    return {"binlog": "unavailable", "reason": reason}


def binlog_coordinates(cur: pymysql.cursors.Cursor, mariadb: bool) -> dict[str, Any]:
    """The binlog file and position of the session's snapshot, or why there are none (never an error).

    MariaDB reports the position of the open consistent snapshot in status variables that need no
    privilege; elsewhere the status statements need REPLICATION CLIENT (BINLOG MONITOR).
    """
    if mariadb:
        cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
        found = {str(name).lower(): value for name, value in cur.fetchall()}
        if found.get("binlog_snapshot_file"):
            return {
                "binlog_file": found["binlog_snapshot_file"],
                "binlog_pos": int(found["binlog_snapshot_position"]),
            }
    for statement in _STATUS_STATEMENTS:
        try:
            cur.execute(statement)
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == _ER_PARSE_ERROR:
                continue
            return unavailable(f"{statement}: {exc.args[-1]}")
        status = cur.fetchone()
        if not status:
            return unavailable(f"{statement} reports no binary log")
        return {"binlog_file": status[0], "binlog_pos": int(status[1])}
    return unavailable("the server knows none of " + ", ".join(_STATUS_STATEMENTS))


def binlog_enabled(cur: pymysql.cursors.Cursor) -> bool:
    """Whether the server writes a binary log."""
    cur.execute("SELECT @@log_bin")
    row = cur.fetchone()
    return bool(row and int(row[0]))


BINLOG_OFF = "binary logging is off on the server (log_bin)"


def positions(conn: Conn, mariadb: bool) -> dict[str, Any]:
    """Binlog coordinates and GTID position of the session's snapshot, or why there are none.

    Only under the global read lock is the GTID position (the server's current one) that of the snapshot.
    """
    with conn.cursor() as cur:
        if not binlog_enabled(cur):
            return unavailable(BINLOG_OFF)
        pos = binlog_coordinates(cur, mariadb)
        for var in ("gtid_binlog_pos", "gtid_executed"):
            try:
                cur.execute(f"SELECT @@{var}")
                pos["gtid"] = (cur.fetchone() or [None])[0]
                break
            except pymysql.MySQLError:
                continue
        return pos


# mariadb-dump --master-data=2 writes, as a comment after its header, the binlog coordinates of its own
# consistent snapshot (the binlog_snapshot_* status: no lock, no privilege), once that snapshot is open
_DUMPED_POSITION = re.compile(
    rb"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^'\n]+)', MASTER_LOG_POS=(\d+);$", re.M
)


def dumped_position(head: bytes) -> tuple[str, int] | None:
    """The binlog file and position mariadb-dump wrote in ``head``, its output so far (None: not yet)."""
    found = _DUMPED_POSITION.search(head)
    return (found.group(1).decode(errors="replace"), int(found.group(2))) if found else None


def gtid_at(cur: pymysql.cursors.Cursor, file: str, pos: int) -> str | None:
    """MariaDB's GTID position at a binlog file and offset, as mariadb-dump computes it for its own snapshot
    (None: the server cannot tell, e.g. the file was purged meanwhile)."""
    try:
        cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
    except pymysql.MySQLError:
        return None
    row = cur.fetchone()
    return None if not row or row[0] is None else str(row[0])
