"""Kill -9 of PostgreSQL, Redis and MariaDB backups at random points: nothing incomplete or left running."""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from _helpers import PG_SERVER, mariadb_admin, wait_for
from seawall.backup import create_backup, list_backups, verify_backup
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
RedisServer = Callable[..., tuple[str, subprocess.Popen[bytes]]]

pytestmark = pytest.mark.integration

ROUNDS = 5
RUN = (
    "import time; from seawall.config import load_stack; from seawall.backup import create_backup\n"
    "stack = load_stack(); print('ready', flush=True); t = time.monotonic(); r = create_backup(stack)\n"
    "print(time.monotonic() - t, r.ok, flush=True)"
)


def left_running(tag: str, staging: Path) -> list[str]:
    """Live processes of the killed backup: its tools by their inherited tag, private servers by their cwd.

    redis-server rewrites its process title over its environment, so a private one is found by the
    directory it works in (a staging directory of the backup, under ``staging``).
    """
    out = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            ours = proc.environ().get("SEAWALL_TEST_TAG") == tag or proc.cwd().startswith(str(staging) + "/")
        except psutil.Error:
            continue
        if ours:
            out.append(f"{proc.info['name']}[{proc.pid}]")
    return out


def spawn(root: Path, tag: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [sys.executable, "-c", RUN],
        cwd=root,
        stdout=subprocess.PIPE,
        env={**os.environ, "SEAWALL_TEST_TAG": tag},
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    return child


def kill_at_random_points(stack: StackConfig, seed: int, server_gone: Callable[[], bool]) -> None:
    """The same assertions for every datastore; ``server_gone`` says the server holds nothing of ours."""
    root, repo = stack.root, stack.root / "repo" / "shop"
    tag = f"kill-{secrets.token_hex(4)}"
    first = spawn(root, tag)  # a full run in the same conditions gives the window to kill in
    assert first.stdout is not None
    seconds, ok = first.stdout.readline().split()
    first.wait()
    first.stdout.close()
    assert ok == b"True"
    rng = random.Random(seed)
    interrupted = 0
    for _ in range(ROUNDS):
        child = spawn(root, tag)
        time.sleep(rng.uniform(0.05, 0.9) * float(seconds))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
        interrupted += any(p.is_dir() and not (p / "manifest.json").exists() for p in repo.iterdir())
        # dumps, redis-cli and private redis-servers die with the backup (a broken pipe or pdeathsig)
        try:
            wait_for(
                lambda: not left_running(tag, repo), timeout=15, what="the killed backup's processes to end"
            )
        except AssertionError:
            raise AssertionError(f"still running after the kill: {left_running(tag, repo)}") from None
        wait_for(server_gone, timeout=15, what="the server to drop the killed backup's sessions")
        listing = list_backups(stack, rescan=True)
        assert listing.errors == ()
        assert all(info.entry.complete for info in listing.backups)
    assert interrupted >= 2, "the kills should land in the middle of backups"
    for info in list_backups(stack).backups:  # earlier backups, and any finished just before a kill
        assert verify_backup(stack, info.entry.id).ok
    after = create_backup(stack)  # the dead writers' lock is taken over, their leftovers swept
    assert after.ok, after.failed
    assert sorted(p.name for p in repo.iterdir() if not (p / "manifest.json").exists()) == ["lock"]
    assert (repo / "lock").read_bytes() == b""
    assert verify_backup(stack, after.id, deep=True).ok


def test_postgres(make_stack: MakeStack, postgres_db: str) -> None:
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE t (id int, body text)")
        conn.execute(b"INSERT INTO t SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 250000) g")
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": postgres_db}}})
    name = postgres_db.rsplit("/", 1)[1]

    def no_sessions() -> bool:
        with psycopg.connect(postgres_db) as conn:
            row = conn.execute(
                b"SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()
        return row == (0,)

    kill_at_random_points(stack, 11, no_sessions)


def test_redis(make_stack: MakeStack, redis_server: RedisServer) -> None:
    url, _ = redis_server("--enable-debug-command", "yes")
    with redis.Redis.from_url(url) as client:
        client.execute_command("DEBUG", "POPULATE", 10000, "key", 4000)
    stack = make_stack({"cache": {"datastore": {"kind": "redis", "url": url}}})

    def no_replicas() -> bool:
        with redis.Redis.from_url(url) as client:
            info = client.info("replication")
            return (
                int(info["connected_slaves"]) == 0
                and not client.info("persistence")["rdb_bgsave_in_progress"]
            )

    kill_at_random_points(stack, 22, no_replicas)


def test_mariadb(make_stack: MakeStack, mariadb_db: str) -> None:
    admin = mariadb_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"USE `{mariadb_db}`")  # the seq_ tables of the Sequence engine need a database
            cur.execute("CREATE TABLE t (id INT, body TEXT) ENGINE=InnoDB")
            cur.execute("INSERT INTO t SELECT seq, REPEAT(MD5(seq), 4) FROM seq_1_to_150000")

        def no_sessions() -> bool:
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                    " WHERE DB = %s AND ID <> CONNECTION_ID()",
                    (mariadb_db,),
                )
                return cur.fetchone() == (0,)

        stack = make_stack(
            {"db": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1:3306/{mariadb_db}"}}}
        )
        kill_at_random_points(stack, 33, no_sessions)
    finally:
        admin.close()


# the CLI with Ctrl-C as from a terminal: a shell's background job (a CI runner) starts with SIGINT
# ignored, and Python then never turns it into KeyboardInterrupt
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
    " sys.argv[0] = 'seawall'; runpy.run_module('seawall.cli', run_name='__main__')"
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_ends_a_waiting_dump_at_once(
    make_stack: MakeStack, postgres_db: str, sig: signal.Signals
) -> None:
    """The dump waits on a lock (up to --lock-wait-timeout, 30 s); Ctrl-C must not wait with it."""
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute(b"CREATE TABLE IF NOT EXISTS held AS SELECT g AS id FROM generate_series(1, 100) g")
    stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": postgres_db}}})
    name = postgres_db.rsplit("/", 1)[1]
    with psycopg.connect(postgres_db) as holder:
        holder.execute(b"LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        child = subprocess.Popen(
            [sys.executable, "-c", AS_FROM_A_TERMINAL, "backup", "create"],
            cwd=stack.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def dump_waits() -> bool:
                with psycopg.connect(f"{PG_SERVER}/postgres") as admin:
                    query = b"SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
                    return admin.execute(query, (name,)).fetchone() is not None

            wait_for(dump_waits, timeout=30, what="pg_dump to wait on the lock")
            child.send_signal(sig)
            began = time.monotonic()
            _, err = child.communicate(timeout=25)
            took = time.monotonic() - began
        finally:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert took < 10, f"Ctrl-C took {took:.1f}s: it waited for the dump"
    dumps = [p for p in psutil.process_iter(["name", "cmdline"]) if p.info["name"] == "pg_dump"]
    assert not [p for p in dumps if name in " ".join(p.info["cmdline"] or ())]
    repo = stack.root / "repo" / "shop"
    assert sorted(p.name for p in repo.iterdir()) == ["lock"]
