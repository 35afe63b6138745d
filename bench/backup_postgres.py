"""Benchmark: PostgreSQL `seawall backup create` / restore against the plain tools, one job and parallel.

Targets (issue 3):
- one job: backup <= 1.05x `pg_dump -Fc -Z0 | zstd -3 -T2` to a file; restore <= 1.05x
  `pg_restore --single-transaction` of a plain custom-format dump;
- parallel (datastore `jobs: N`, the directory format): backup >= 1.5x faster than plain
  `pg_dump -Fc` (its default compression) to a file; restore <= 1.05x `pg_restore -j N` of a
  directory dump (`pg_dump -Fd -j N -Z0`).
Seawall's backups and restores include the data fingerprint (one server-side scan of every table:
the proof of restore); the fingerprint alone and the one-job pipeline without it are timed too.
The database (a shop: customers, orders, order events, reviews, spread over several tables so that
parallel jobs have work to share; text, numbers, timestamps, JSON and hashes, compressible like real
rows) is generated in a database of its own and dropped at the end, with every scratch database.
Usage: python bench/backup_postgres.py [--size-mb 1024] [--runs 3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import shutil
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
from seawall.backup.sources.pg_fingerprint import fingerprint_conn
from seawall.config import StackConfig, load_stack

SERVER = "postgresql://postgres@127.0.0.1:5432"
PG = "PGHOST=127.0.0.1 PGUSER=postgres"
TARGET = 1.05
PARALLEL_TARGET = 1.5
BATCH_ROWS = 100_000
SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, city text, created timestamptz,
                        prefs jsonb);
CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint, email text, amount numeric, status text,
                     created timestamptz, items jsonb, note text);
CREATE TABLE order_events (id bigint PRIMARY KEY, order_id bigint, kind text, at timestamptz, ip inet,
                           payload jsonb);
CREATE TABLE reviews (id bigint PRIMARY KEY, customer bigint, sku text, rating int, body text);
"""
WORDS = "ARRAY['good','fast','late','broken','great','value','box','size','colour','again','never','love']"
FILLS = {
    "customers": """
INSERT INTO customers SELECT g, 'customer ' || g,
       'user' || g || '@example.' || (ARRAY['com','org','net'])[g %% 3 + 1],
       (ARRAY['Lyon','Porto','Graz','Turku','Ghent','Split'])[g %% 6 + 1], now() - g * interval '7 seconds',
       jsonb_build_object('newsletter', g %% 2 = 0, 'lang', (ARRAY['en','fr','de'])[g %% 3 + 1],
                          'token', md5(random()::text))
FROM generate_series(%s::bigint, %s::bigint) g""",
    "orders": """
INSERT INTO orders SELECT g, g %% 50000, 'user' || (g %% 50000) || '@example.com',
       round((random() * 1000)::numeric, 2), (ARRAY['new','paid','shipped','returned'])[g %% 4 + 1],
       now() - g * interval '1 second',
       jsonb_build_object('sku', md5(g::text), 'qty', g %% 7,
                          'tags', jsonb_build_array('a' || g %% 13, 'b' || g %% 17)),
       md5(random()::text) || ' ' || repeat(substr(md5(g::text), 1, 8) || ' ', 3)
FROM generate_series(%s::bigint, %s::bigint) g""",
    "order_events": """
INSERT INTO order_events SELECT g, g / 3,
       (ARRAY['created','paid','packed','shipped','delivered'])[g %% 5 + 1], now() - g * interval '300 ms',
       ('10.' || g %% 250 || '.' || g %% 199 || '.' || g %% 97)::inet,
       jsonb_build_object('by', 'worker-' || g %% 40, 'trace', md5(random()::text),
                          'ms', (random() * 900)::int)
FROM generate_series(%s::bigint, %s::bigint) g""",
    "reviews": f"""
INSERT INTO reviews SELECT g, g %% 50000, substr(md5((g %% 9000)::text), 1, 10), 1 + g %% 5,
       array_to_string(ARRAY(SELECT ({WORDS})[1 + ((g * 31 + i * 7) %% 12)]
                             FROM generate_series(1, 12 + g %% 20) i), ' ')
       || ' #' || md5(random()::text)
FROM generate_series(%s::bigint, %s::bigint) g""",
}


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.encode())


def generate(name: str, size_mb: int) -> int:
    """Batches into each table in turn, so the tables end up of comparable sizes."""
    admin(f"CREATE DATABASE {name}")
    with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
        start, size = 1, 0
        while size < size_mb << 20:
            for fill in FILLS.values():
                conn.execute(fill.encode(), (start, start + BATCH_ROWS - 1))
            start += BATCH_ROWS
            row = conn.execute(b"SELECT pg_database_size(current_database())").fetchone()
            size = int(row[0]) if row else 0
        conn.execute(b"VACUUM ANALYZE")
    return size


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy: the server's backends are nobody's children here."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    # user, nice, system, irq, softirq: not idle, iowait, the hypervisor's steal, nor guest time
    # (which user and nice already hold)
    return (sum(ticks[:3]) + ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")


def shell(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, executable="/bin/bash")


def fingerprint(url: str) -> float:
    """Wall time of the fingerprint alone, as the backup takes it (a repeatable-read snapshot)."""
    with psycopg.connect(url) as conn:
        conn.execute(b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(b"SET LOCAL max_parallel_workers_per_gather = 0")  # one process, as at backup
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


def make_stack(base: Path, name: str, jobs: int) -> StackConfig:
    (base / f"j{jobs}").mkdir()
    doc = {
        "stack": "bench",
        "components": {"db": {"datastore": {"kind": "postgres", "url": f"{SERVER}/{name}", "jobs": jobs}}},
        "backup": {"repository": "repo", "level": 3, "threads": 2},
    }
    (base / f"j{jobs}" / "seawall.yaml").write_text(yaml.safe_dump(doc))
    return load_stack(base / f"j{jobs}" / "seawall.yaml")


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())


class Figures:
    """Times (medians), byte counts and the verdict lines."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.sizes: dict[str, tuple[int, int]] = {}  # name -> (dump stream bytes, stored bytes)
        self.cpu: dict[str, list[float]] = {}  # name -> busy CPU seconds of the whole machine per run

    def add(self, key: str, seconds: float) -> None:
        self.times.setdefault(key, []).append(seconds)

    def med(self, key: str) -> float:
        return statistics.median(self.times[key])

    def side(self, label: str, key: str, sizes: str) -> str:
        raw, stored = self.sizes[sizes]
        s = self.med(key)
        return f"{label} {s:6.2f}s {raw / 1e6 / s:5.0f} MB/s ratio {raw / stored:4.2f}x"

    def line(self, what: str, ours: tuple[str, str], peer: tuple[str, str, str], speedup: bool) -> None:
        a, b = self.med(ours[0]), self.med(peer[1])
        ours_text, peer_text = self.side("seawall", *ours), self.side(peer[0], peer[1], peer[2])
        if speedup:
            verdict = "ok" if b / a >= PARALLEL_TARGET else "UNDER TARGET"
            figure = f"{b / a:.2f}x faster (target >= {PARALLEL_TARGET}x)"
        else:
            verdict = "ok" if a / b <= TARGET else "OVER TARGET"
            figure = f"ratio {a / b:.3f} (target <= {TARGET})"
        print(f"{what}: {ours_text} | {peer_text} | {figure} {verdict}")


def measure_backups(fig: Figures, base: Path, name: str, stacks: dict[str, StackConfig]) -> dict[str, str]:
    """One run of each backup: seawall with one job and with N, pg_dump|zstd, plain pg_dump -Fc."""
    ids = {}
    plain_raw = base / "plain.dump"  # the uncompressed custom-format stream: the others' raw size
    for key, stack in stacks.items():
        before = machine_cpu()
        result = create_backup(stack, components=["db"])
        fig.cpu.setdefault(key, []).append(machine_cpu() - before)
        assert result.ok, result.failed
        art = result.artifacts[0]
        fig.add(f"ours_{key}", art.duration)
        fig.sizes[f"ours_{key}"] = (art.raw_bytes, art.stored_bytes)
        ids[key] = result.id
    peer = base / "peer.dump.zst"
    dump = f"set -o pipefail; {PG} pg_dump -Fc -Z0 {name} | zstd -q -3 -T2 -o {peer}"
    before = machine_cpu()
    fig.add("zstd", timed(functools.partial(shell, dump)))
    fig.cpu.setdefault("zstd", []).append(machine_cpu() - before)
    fig.sizes["zstd"] = (size_of(plain_raw), size_of(peer))
    peer.unlink()
    plain = base / "plain-gzip.dump"
    fig.add("plain", timed(functools.partial(shell, f"{PG} pg_dump -Fc -f {plain} {name}")))
    fig.sizes["plain"] = (size_of(plain_raw), size_of(plain))
    plain.unlink()
    fig.add("pipe", pipeline_only(name, base / "pipe.zst"))
    fig.add("prints", fingerprint(f"{SERVER}/{name}"))
    return ids


def measure_restores(
    fig: Figures, base: Path, name: str, stacks: dict[str, StackConfig], ids: dict[str, str], jobs: int
) -> list[str]:
    """One run of each restore into new databases (dropped here); returns their names."""
    made = []
    plain_raw, directory = base / "plain.dump", base / "plain.dir"
    for key, peer_key, load in (
        ("one", "custom", f"--single-transaction {plain_raw}"),
        ("many", "dir", f"-j {jobs} {directory}"),
    ):
        ours_db, theirs_db = f"{name}_r{secrets.token_hex(3)}", f"{name}_p{secrets.token_hex(3)}"
        made += [ours_db, theirs_db]
        res = restore(stacks[key], ids[key], component="db", to=f"{SERVER}/{ours_db}")
        fig.add(f"ours_restore_{key}", res.components[0].seconds)
        admin(f"CREATE DATABASE {theirs_db}")
        command = f"{PG} pg_restore --exit-on-error -d {theirs_db} {load}"
        fig.add(f"{peer_key}_restore", timed(functools.partial(shell, command)))
        if key == "one":
            fig.add("restored_prints", fingerprint(f"{SERVER}/{ours_db}"))
        for db in (ours_db, theirs_db):
            admin(f"DROP DATABASE {db} WITH (FORCE)")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs (the machine's cores)")
    args = parser.parse_args()
    name = f"seawall_bench_{secrets.token_hex(4)}"
    scratch: list[str] = []
    fig = Figures()
    try:
        started = time.perf_counter()
        size = generate(name, args.size_mb)
        took = time.perf_counter() - started
        print(f"database {name}: {size / 1e6:.0f} MB in {len(FILLS)} tables (made in {took:.0f}s)")
        with tempfile.TemporaryDirectory(prefix="seawall-bench-") as tmp:
            base = Path(tmp)
            stacks = {"one": make_stack(base, name, 1), "many": make_stack(base, name, args.jobs)}
            shell(f"{PG} pg_dump -Fc -Z0 -f {base / 'plain.dump'} {name}")
            for _ in range(args.runs):
                ids = measure_backups(fig, base, name, stacks)
            directory = base / "plain.dir"
            shell(f"{PG} pg_dump -Fd -j {args.jobs} -Z0 -f {directory} {name}")
            fig.sizes["dir"] = (size_of(directory), size_of(directory))
            fig.sizes["custom"] = (size_of(base / "plain.dump"), size_of(base / "plain.dump"))
            for _ in range(args.runs):
                scratch += measure_restores(fig, base, name, stacks, ids, args.jobs)
            shutil.rmtree(directory)
        report(fig, args.jobs)
    finally:
        for db in [name, *scratch]:
            admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def report(fig: Figures, jobs: int) -> None:
    """Medians with throughput (dump stream MB per second) and compression ratio on each side."""
    print("(MB/s: megabytes of the uncompressed dump stream per second; ratio: that stream / bytes stored)")
    fig.line("backup, 1 job          ", ("ours_one", "ours_one"), ("pg_dump|zstd", "zstd", "zstd"), False)
    fig.line(
        f"backup, {jobs} jobs         ", ("ours_many", "ours_many"), ("pg_dump -Fc ", "plain", "plain"), True
    )
    fig.line(
        "restore, 1 job         ",
        ("ours_restore_one", "ours_one"),
        ("pg_restore  ", "custom_restore", "custom"),
        False,
    )
    fig.line(
        f"restore, {jobs} jobs        ",
        ("ours_restore_many", "ours_many"),
        (f"pg_restore -j{jobs}", "dir_restore", "dir"),
        False,
    )
    p, fp, rfp, b = fig.med("pipe"), fig.med("prints"), fig.med("restored_prints"), fig.med("zstd")
    raw = fig.sizes["ours_one"][0]
    rate = raw / 1e6 / p
    print(
        f"pipeline alone, 1 job, no fingerprint {p:.2f}s {rate:4.0f} MB/s | ratio {p / b:.3f} to pg_dump|zstd"
    )
    ours_cpu, peer_cpu = statistics.median(fig.cpu["one"]), statistics.median(fig.cpu["zstd"])
    print(
        f"CPU seconds of the whole machine, backup 1 job: seawall {ours_cpu:.2f}, pg_dump|zstd {peer_cpu:.2f}"
        " (server backends included; on 2 cores a saturated run's wall time follows these)"
    )
    print(
        f"fingerprint alone: {fp:.2f}s on the source, {rfp:.2f}s on the restored database"
        " (one server-side scan of every table; concurrent with the dump, after the restore)"
    )


if __name__ == "__main__":
    main()
