"""The PostgreSQL data fingerprint: per table, a row count and an order-independent sum of row hashes."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

_TABLES = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
    ORDER BY 1, 2"""

FINGERPRINT_METHOD = "pg-hash-2"
_BY_RECORD = "sum(hash_record_extended(t, 0))"  # column by column with each type's hash: no text
_BY_TEXT = "sum(hashtextextended(t::text, 0))"  # types without an extended hash (json, point, ...)
_BY_MD5 = "sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric)"  # format 1
_AGGREGATES = {"record": _BY_RECORD, "text": _BY_TEXT, "md5": _BY_MD5}


def _table_hash(
    conn: psycopg.Connection[tuple[Any, ...]], table: sql.Composable, via: str
) -> tuple[int, int]:
    query = sql.SQL("SELECT count(*), coalesce({}, 0) FROM {} t").format(sql.SQL(_AGGREGATES[via]), table)
    count, total = conn.execute(query).fetchone() or (0, 0)
    return int(count), int(total)


def fingerprint_conn(
    conn: psycopg.Connection[tuple[Any, ...]], like: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per table: row count and an order-independent sum of 64-bit row hashes, one server-side scan.

    Rows are hashed by ``hash_record_extended`` (PostgreSQL 14+: each column with its type's own
    hash function, no text conversion) or, for a table with a column type that has no extended hash,
    by ``hashtextextended(row::text)``; which one is recorded per table (``via``). ``like`` is the
    fingerprint recorded at backup time: its methods are used, so restores of backups made before
    this format (md5 of the row text, no ``method`` key) still compare.
    """
    legacy = like is not None and like.get("method") != FINGERPRINT_METHOD
    recorded = (like or {}).get("tables", {})
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    tables: dict[str, Any] = {}
    for schema, name in conn.execute(_TABLES).fetchall():
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


__all__ = ["FINGERPRINT_METHOD", "fingerprint_conn"]
