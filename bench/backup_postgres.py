"""Benchmark: `seawall backup create` / restore of PostgreSQL vs `pg_dump -Fc -Z0 | zstd -3 -T2` / pg_restore.

Targets: backup wall time <= 1.05x the shell pipeline; restore <= 1.05x pg_restore (one job each).
Seawall's backup and restore include the data fingerprint (one server-side scan of every table: the
proof of restore); the fingerprint alone and the pipeline without it are timed too, so the
pipeline's own overhead and the fingerprint's cost are each visible.
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
from seawall.backup.pipeline import Codec, encode
from seawall.backup.sources.postgres import fingerprint_conn
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


def fingerprint(url: str) -> float:
    """Wall time of the fingerprint alone, as the backup takes it (a repeatable-read snapshot)."""
    with psycopg.connect(url) as conn:
        conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return timed(lambda: fingerprint_conn(conn))


def pipeline_only(name: str, out: Path) -> float:
    """Seawall's pipeline (pg_dump -Fc -Z0 -> zstandard -3 with 2 threads -> sha256 -> file) alone."""

    def run() -> None:
        env = {"PGHOST": "127.0.0.1", "PGUSER": "postgres", "PATH": "/usr/bin:/bin"}
        with (
            subprocess.Popen(["pg_dump", "-Fc", "-Z0", name], stdout=subprocess.PIPE, env=env) as proc,
            open(out, "wb") as f,
        ):
            assert proc.stdout is not None
            encode(proc.stdout, f, Codec("zstd", 3, 2), lambda n: None)
        assert proc.returncode == 0

    took = timed(run)
    out.unlink()
    return took


def report(raw: int, stored: int, times: dict[str, list[float]]) -> None:
    """Medians, rates and ratios, one line each."""
    med = {k: statistics.median(v) for k, v in times.items()}
    a, b = med["ours"], med["theirs"]
    ra, rb = med["ours_restore"], med["theirs_restore"]
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
    p, fp, rfp = med["pipe"], med["prints"], med["restored_prints"]
    print(f"pipeline alone (no fingerprint) {p:6.2f}s {mb / p:5.0f} MB/s | ratio {p / b:.3f} to pg_dump|zstd")
    print(
        f"fingerprint alone: {fp:.2f}s on the source, {rfp:.2f}s on the restored database"
        " (one server-side scan of every table; concurrent with the dump, after the restore)"
    )


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
            pipe, prints, restored_prints = [], [], []
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
                pipe.append(pipeline_only(name, base / "pipe.zst"))
                prints.append(fingerprint(f"{SERVER}/{name}"))
            plain = base / "plain.dump"
            shell(f"{PG} pg_dump -Fc -Z0 -f {plain} {name}")
            for _ in range(args.runs):
                ours_db, theirs_db = f"{name}_r{secrets.token_hex(3)}", f"{name}_p{secrets.token_hex(3)}"
                scratch += [ours_db, theirs_db]
                res = restore(stack, backup_id, component="db", to=f"{SERVER}/{ours_db}")
                ours_restore.append(res.components[0].seconds)
                restored_prints.append(fingerprint(f"{SERVER}/{ours_db}"))
                admin(f"CREATE DATABASE {theirs_db}")
                load = f"{PG} pg_restore --exit-on-error --single-transaction -d {theirs_db} {plain}"
                theirs_restore.append(timed(functools.partial(shell, load)))
                for db in (ours_db, theirs_db):
                    admin(f"DROP DATABASE {db} WITH (FORCE)")
        report(
            raw,
            stored,
            {
                "ours": ours,
                "theirs": theirs,
                "ours_restore": ours_restore,
                "theirs_restore": theirs_restore,
                "pipe": pipe,
                "prints": prints,
                "restored_prints": restored_prints,
            },
        )
    finally:
        for db in [name, *scratch]:
            admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
