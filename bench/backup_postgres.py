"""Benchmark: `seawall backup create` / restore of PostgreSQL vs `pg_dump -Fc -Z0 | zstd -3 -T2` / pg_restore.

Targets: backup wall time <= 1.05x the shell pipeline; restore <= 1.05x pg_restore (one job each).
The database is generated here (orders with text, numbers, timestamps and JSON: compressible like
real rows, not like zeros) in a database of its own, dropped at the end.
Usage: python bench/backup_postgres.py [--size-mb 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import functools
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import yaml

from seawall.backup import create_backup, restore
from seawall.config import load_stack

SERVER = "postgresql://postgres@127.0.0.1:5432"
PG = "PGHOST=127.0.0.1 PGUSER=postgres"
TARGET = 1.05
BATCH_ROWS = 200_000
FILL = """
INSERT INTO orders(customer, email, amount, status, created, items, note)
SELECT 'customer ' || (g %% 50000),
       'user' || (g %% 50000) || '@example.' || (ARRAY['com','org','net'])[g %% 3 + 1],
       round((random() * 1000)::numeric, 2), (ARRAY['new','paid','shipped','returned'])[g %% 4 + 1],
       now() - g * interval '1 second',
       jsonb_build_object('sku', md5(g::text), 'qty', g %% 7,
                          'tags', jsonb_build_array('a' || g %% 13, 'b' || g %% 17)),
       md5(random()::text) || ' ' || repeat(substr(md5(g::text), 1, 8) || ' ', 3)
FROM generate_series(%s::bigint, %s::bigint) g
"""


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.encode())


def generate(name: str, size_mb: int) -> int:
    admin(f"CREATE DATABASE {name}")
    with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as conn:
        conn.execute(
            b"CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, email text, amount numeric,"
            b" status text, created timestamptz, items jsonb, note text)"
        )
        start, size = 1, 0
        while size < size_mb << 20:
            conn.execute(FILL.encode(), (start, start + BATCH_ROWS - 1))
            start += BATCH_ROWS
            row = conn.execute(b"SELECT pg_database_size(current_database())").fetchone()
            size = int(row[0]) if row else 0
    return size


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def shell(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, executable="/bin/bash")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"seawall_bench_{secrets.token_hex(4)}"
    scratch: list[str] = []
    try:
        started = time.perf_counter()
        size = generate(name, args.size_mb)
        print(f"database {name}: {size / 1e6:.0f} MB (made in {time.perf_counter() - started:.0f}s)")
        with tempfile.TemporaryDirectory(prefix="seawall-bench-") as tmp:
            base = Path(tmp)
            doc = {
                "stack": "bench",
                "components": {"db": {"datastore": {"kind": "postgres", "url": f"{SERVER}/{name}"}}},
                "backup": {"repository": "repo", "level": 3, "threads": 2},
            }
            (base / "seawall.yaml").write_text(yaml.safe_dump(doc))
            stack = load_stack(base / "seawall.yaml")
            ours, theirs, ours_restore, theirs_restore = [], [], [], []
            raw = stored = 0
            backup_id = ""
            for run in range(args.runs):
                result = create_backup(stack, components=["db"])
                assert result.ok, result.failed
                ours.append(result.artifacts[0].duration)
                raw, stored, backup_id = (
                    result.artifacts[0].raw_bytes,
                    result.artifacts[0].stored_bytes,
                    result.id,
                )
                peer = base / f"peer{run}.dump.zst"
                dump = f"set -o pipefail; {PG} pg_dump -Fc -Z0 {name} | zstd -q -3 -T2 -o {peer}"
                theirs.append(timed(functools.partial(shell, dump)))
                peer.unlink()
            plain = base / "plain.dump"
            shell(f"{PG} pg_dump -Fc -Z0 -f {plain} {name}")
            for _ in range(args.runs):
                ours_db, theirs_db = f"{name}_r{secrets.token_hex(3)}", f"{name}_p{secrets.token_hex(3)}"
                scratch += [ours_db, theirs_db]
                res = restore(stack, backup_id, component="db", to=f"{SERVER}/{ours_db}")
                ours_restore.append(res.components[0].seconds)
                admin(f"CREATE DATABASE {theirs_db}")
                load = f"{PG} pg_restore --exit-on-error --single-transaction -d {theirs_db} {plain}"
                theirs_restore.append(timed(functools.partial(shell, load)))
                for db in (ours_db, theirs_db):
                    admin(f"DROP DATABASE {db} WITH (FORCE)")
        a, b = statistics.median(ours), statistics.median(theirs)
        ra, rb = statistics.median(ours_restore), statistics.median(theirs_restore)
        mb = raw / 1e6
        print(f"dump stream {mb:.0f} MB, stored {stored / 1e6:.0f} MB: compression ratio {raw / stored:.2f}x")
        for what, ours_s, tool, peer_s in (
            ("backup ", a, "pg_dump|zstd", b),
            ("restore", ra, "pg_restore  ", rb),
        ):
            verdict = "ok" if ours_s / peer_s <= TARGET else "OVER TARGET"
            print(
                f"{what} seawall {ours_s:6.2f}s {mb / ours_s:5.0f} MB/s | {tool} {peer_s:6.2f}s"
                f" {mb / peer_s:5.0f} MB/s | ratio {ours_s / peer_s:.3f} (target <= {TARGET}) {verdict}"
            )
        print(
            "seawall's times include the fingerprint (row counts, content hash) and its check after restore"
        )
    finally:
        for db in [name, *scratch]:
            admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
