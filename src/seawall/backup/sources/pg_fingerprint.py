"""The PostgreSQL data fingerprint: per table, a row count and an order-independent sum of row hashes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import sql

_USER_TABLES = """
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
    ORDER BY 1, 2"""
_TABLES = "SELECT n.nspname, c.relname" + _USER_TABLES
_SIZED = "SELECT n.nspname, c.relname, pg_total_relation_size(c.oid)" + _USER_TABLES

FINGERPRINT_METHOD = "pg-hash-2"
# column by column with each type's hash, no text. ROW(the live columns) hashes exactly as the
# whole-row ``t`` does, 15 % cheaper: the whole row is not flattened into a composite first.
_BY_RECORD = "sum(hash_record_extended(ROW({columns}), 0))"
_BY_TEXT = "sum(hashtextextended(t::text, 0))"  # types without an extended hash (json, point, ...)
_BY_MD5 = "sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric)"  # format 1
_AGGREGATES = {"record": _BY_RECORD, "text": _BY_TEXT, "md5": _BY_MD5}


_COLUMNS = """SELECT attname FROM pg_attribute
    WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"""


def _table_hash(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Identifier, via: str
) -> tuple[int, int]:
    aggregate: sql.Composable = sql.SQL(_AGGREGATES[via])
    if via == "record":
        names = [str(name) for (name,) in conn.execute(_COLUMNS, [table.as_string(conn)])]
        columns = sql.SQL(", ").join(sql.Identifier("t", name) for name in names)
        aggregate = sql.SQL(_BY_RECORD).format(columns=columns)
    query = sql.SQL("SELECT count(*), coalesce({}, 0) FROM {} t").format(aggregate, table)
    count, total = conn.execute(query).fetchone() or (0, 0)
    return int(count), int(total)


def fingerprint_conn(
    conn: psycopg.Connection[tuple[Any, ...]],
    like: dict[str, Any] | None = None,
    only: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Per table: row count and an order-independent sum of 64-bit row hashes, one server-side scan.

    Rows are hashed by ``hash_record_extended`` (PostgreSQL 14+: each column with its type's own
    hash function, no text conversion) or, for a table with a column type that has no extended hash,
    by ``hashtextextended(row::text)``; which one is recorded per table (``via``). ``like`` is the
    fingerprint recorded at backup time: its methods are used, so restores of backups made before
    this format (md5 of the row text, no ``method`` key) still compare. ``only``: these tables
    (schema, name) instead of every user table.
    """
    legacy = like is not None and like.get("method") != FINGERPRINT_METHOD
    recorded = (like or {}).get("tables", {})
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    tables: dict[str, Any] = {}
    for schema, name in only if only is not None else conn.execute(_TABLES).fetchall():
        key, ident = f"{schema}.{name}", sql.Identifier(schema, name)
        if legacy:
            count, total = _table_hash(conn, ident, "md5")
            tables[key] = {"rows": count, "hash": str(total)}
            continue
        via = str(recorded.get(key, {}).get("via") or ("record" if version >= 140000 else "text"))
        if via == "record" and key not in recorded:
            try:
                with conn.transaction():  # a savepoint: a type without an extended hash falls back
                    count, total = _table_hash(conn, ident, via)
            except psycopg.errors.UndefinedFunction:
                via = "text"
                count, total = _table_hash(conn, ident, via)
        else:
            count, total = _table_hash(conn, ident, via)
        tables[key] = {"rows": count, "hash": str(total), "via": via}
    if legacy:
        return {"tables": tables}
    return {"method": FINGERPRINT_METHOD, "tables": tables}


def _shares(sized: Sequence[tuple[str, str, int]], workers: int) -> list[list[tuple[str, str]]]:
    """Tables dealt to ``workers`` connections, largest first to the least loaded (greedy balance)."""
    loads = [0] * workers
    shares: list[list[tuple[str, str]]] = [[] for _ in range(workers)]
    for schema, name, size in sorted(sized, key=lambda t: -t[2]):
        least = loads.index(min(loads))
        shares[least].append((schema, name))
        loads[least] += size
    return [share for share in shares if share]


def fingerprint_parallel(
    connect: Callable[[], psycopg.Connection[tuple[Any, ...]]],
    like: dict[str, Any] | None = None,
    workers: int = 2,
    known: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``fingerprint_conn`` with the tables shared among ``workers`` connections, one snapshot for all.

    The scans are the server's work, so on an otherwise idle server (a restored or scratch database)
    two connections take about half the time. Every connection reads the first one's exported
    snapshot, so the result is the same consistent picture one connection would have seen.
    ``known``: tables already fingerprinted (by ``EarlyPrints``, as ``like`` computes them), taken
    as they are when the table still exists.
    """
    known = known or {}
    with connect() as lead:
        lead.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = str(lead.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        sized = [(str(schema), str(name), int(size)) for schema, name, size in lead.execute(_SIZED)]
        keyed = {f"{schema}.{name}": (schema, name, size) for schema, name, size in sized}
        found = {key: known[key] for key in keyed if key in known}
        sized = [table for key, table in keyed.items() if key not in found]
        shares = _shares(sized, max(1, workers))
        if len(shares) <= 1:
            parts = [fingerprint_conn(lead, like, [(s, n) for s, n, _ in sized])]
        else:

            def scan(share: list[tuple[str, str]]) -> dict[str, Any]:
                with connect() as conn:
                    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                    return fingerprint_conn(conn, like, share)

            # the lead keeps its transaction (and so the snapshot) open until every helper has its own
            with ThreadPoolExecutor(len(shares) - 1, thread_name_prefix="seawall-pg-fingerprint") as pool:
                others = [pool.submit(scan, share) for share in shares[1:]]
                parts = [fingerprint_conn(lead, like, shares[0]), *(f.result() for f in others)]
    tables = {key: table for part in parts for key, table in part["tables"].items()} | found
    return {**parts[0], "tables": dict(sorted(tables.items()))}


__all__ = ["FINGERPRINT_METHOD", "fingerprint_conn", "fingerprint_parallel"]
