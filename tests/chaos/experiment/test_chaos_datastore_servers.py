"""Datastore loss on real servers: PostgreSQL and MariaDB (own databases), Redis (a private server).

The servers are not run by the stack, so "unavailable" cuts the datastore's clients off (PostgreSQL
refuses connections to the database, Redis requires a password they do not have) and is refused
at plan time for MariaDB; "empty" drops or flushes after a verified backup. Every inverse — by the
runner, or by `chaos restore` after the runner was SIGKILLed — brings back exactly the same data.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import yaml
from chaos_helpers import write_experiment

from _helpers import mariadb_admin, private_redis, run_cli, wait_for
from seawall.chaos.experiment import RunStatus, parse_experiment, plan_experiment, run_experiment
from seawall.chaos.faults import DatastoreUnavailable, FaultContext
from seawall.chaos.ledger import Ledger
from seawall.config import StackConfig, load_stack
from seawall.errors import UsageError
from seawall.runtime import get_runtime

pytestmark = pytest.mark.integration

ROWS = 25
RUNNER = """
import sys
from pathlib import Path
from seawall.chaos.experiment import load_experiment, run_experiment
from seawall.config import load_stack
sys.exit(run_experiment(load_experiment(Path(sys.argv[2])), load_stack(Path(sys.argv[1]))).exit_code)
"""
# what the application sees, from another process: exit 0 only if every datastore is emptied
# (argv: empty PG_URL REDIS_URL MARIADB_NAME) or out of reach (argv: unavailable PG_URL REDIS_URL)
APP_VIEW = """
import sys, psycopg, pymysql, redis
mode, pg, cache = sys.argv[1:4]
try:
    psycopg.connect(pg, connect_timeout=3).close()
    sys.exit("postgres still answers")
except psycopg.OperationalError as exc:
    assert ("does not exist" if mode == "empty" else "not currently accepting connections") in str(exc), exc
client = redis.Redis.from_url(cache, socket_timeout=3)
if mode == "empty":
    assert client.dbsize() == 0, "redis still holds keys"
    with pymysql.connect(host="127.0.0.1", port=3306, user="root", password="").cursor() as cursor:
        assert cursor.execute("SHOW DATABASES LIKE %s", (sys.argv[4],)) == 0, "the database is still there"
else:
    try:
        client.ping()
        sys.exit("redis still answers")
    except redis.AuthenticationError:
        pass
"""


@pytest.fixture
def servers(tmp_path: Path, postgres_db: str, mariadb_db: str) -> Iterator[StackConfig]:
    """A stack whose datastores live on real servers it does not run, each filled with known data."""
    with private_redis(tmp_path) as port:
        with psycopg.connect(postgres_db, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS orders")
            conn.execute("CREATE TABLE orders (id int PRIMARY KEY, item text)")
            conn.execute("INSERT INTO orders SELECT i, 'item' || i FROM generate_series(1, %s) i", (ROWS,))
        with mariadb_admin() as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS `{mariadb_db}`.orders")
            cursor.execute(f"CREATE TABLE `{mariadb_db}`.orders (id int PRIMARY KEY, item text)")
            cursor.executemany(
                f"INSERT INTO `{mariadb_db}`.orders VALUES (%s, %s)", [(i, f"item{i}") for i in range(ROWS)]
            )
        cache = redis.Redis(port=port)
        cache.mset({f"k{i}": f"v{i}" for i in range(ROWS)})
        cache.hset("h", mapping={"a": "1", "b": "2"})
        cache.close()
        doc = {
            "stack": "servers",
            "state": {"path": "state"},
            "backup": {"repository": "repo", "compression": "none"},
            "components": {
                "pg": {"datastore": {"kind": "postgres", "url": postgres_db}},
                "my": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1:3306/{mariadb_db}"}},
                "cache": {"datastore": {"kind": "redis", "url": f"redis://127.0.0.1:{port}/0"}},
            },
        }
        (tmp_path / "seawall.yaml").write_text(yaml.safe_dump(doc))
        stack = load_stack(tmp_path / "seawall.yaml")
        try:
            yield stack
        finally:
            # a failing test may have left the module's database refusing connections: not the next one
            server, name = postgres_db.rsplit("/", 1)
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(f"{server}/postgres", autocommit=True) as pg_admin,
            ):
                pg_admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true".encode())


def _url(stack: StackConfig, name: str) -> str:
    spec = stack.components[name].datastore
    assert spec is not None
    assert spec.url is not None
    return spec.url


def _fingerprint(stack: StackConfig) -> dict[str, str]:
    """A digest of every row and key, per datastore."""
    with psycopg.connect(_url(stack, "pg")) as conn:
        pg_rows = conn.execute("SELECT id, item FROM orders ORDER BY id").fetchall()
    database = _url(stack, "my").rsplit("/", 1)[1]
    with mariadb_admin() as admin, admin.cursor() as cursor:
        cursor.execute(f"SELECT id, item FROM `{database}`.orders ORDER BY id")
        my_rows = cursor.fetchall()
    cache = redis.Redis.from_url(_url(stack, "cache"))
    keys = sorted(cache.keys())
    values = [(k, cache.hgetall(k) if cache.type(k) == b"hash" else cache.get(k)) for k in keys]
    cache.close()
    assert (len(pg_rows), len(my_rows), len(keys)) == (ROWS, ROWS, ROWS + 1)
    return {name: hashlib.sha256(repr(rows).encode()).hexdigest() for name, rows in
            (("pg", pg_rows), ("my", my_rows), ("cache", values))}  # fmt: skip


def _exp(method: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "datastores on servers",
        "targets": ["pg", "my", "cache"],
        "method": method,
        "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "2s"},
    }


def _script(*argv: str) -> dict[str, Any]:
    """A method action that fails the run unless APP_VIEW (given ``argv``) exits 0."""
    provider = {
        "type": "process",
        "path": sys.executable,
        "arguments": ["-c", APP_VIEW, *argv],
        "timeout": 30,
    }
    return {"type": "action", "name": "the application's view", "provider": provider}


def test_unavailable_cuts_postgres_and_redis_clients_off_and_lets_them_back(servers: StackConfig) -> None:
    """Open sessions are ended, new ones refused; the inverse lets them in with the data unchanged."""
    stack = servers
    before = _fingerprint(stack)
    app_pg = psycopg.connect(_url(stack, "pg"), autocommit=True)
    app_cache = redis.Redis.from_url(_url(stack, "cache"), socket_timeout=3)
    app_cache.ping()
    ctx = FaultContext(stack, get_runtime)
    faults = [DatastoreUnavailable("f0pg", "pg"), DatastoreUnavailable("f0cache", "cache")]
    try:
        assert "refuses connections" in faults[0](ctx)
        assert "connections ended" in faults[1](ctx)
        with pytest.raises(psycopg.OperationalError):
            app_pg.execute("SELECT 1")  # the application's open session is gone
        with pytest.raises(redis.AuthenticationError):
            app_cache.get("k1")  # it reconnects, and is refused
        done = subprocess.run(
            [sys.executable, "-c", APP_VIEW, "unavailable", _url(stack, "pg"), _url(stack, "cache")],
            check=False,
        )
        assert done.returncode == 0
    finally:
        outcomes = [f.inverse()(ctx) for f in faults]
        app_pg.close()
        ctx.close()
    assert outcomes == ["database " + _url(stack, "pg").rsplit("/", 1)[1] + " accepts connections again",
                        "redis accepts its clients again"]  # fmt: skip
    assert _fingerprint(stack) == before
    assert app_cache.get("k1") == b"v1"
    assert [f.inverse()(ctx) for f in faults][1] == "redis accepts its clients"  # idempotent


def test_unavailable_is_refused_at_plan_time_where_it_cannot_act(servers: StackConfig) -> None:
    """MariaDB has no per-database switch; `how: stop` needs a server the stack runs."""
    with pytest.raises(
        UsageError, match="mysql datastore that the stack does not run cannot be made unavailable"
    ):
        plan_experiment(
            parse_experiment(_exp([{"fault": {"kind": "datastore_unavailable", "component": "my"}}])), servers
        )
    with pytest.raises(UsageError, match="the stack does not run 'pg', so it cannot stop it"):
        plan_experiment(
            parse_experiment(
                _exp([{"fault": {"kind": "datastore_unavailable", "component": "pg", "how": "stop"}}])
            ),
            servers,
        )


@pytest.mark.parametrize("kind", ["datastore_empty", "datastore_unavailable"])
def test_runner_acts_on_server_datastores_and_restores_them(servers: StackConfig, kind: str) -> None:
    """Through the runner: emptied / cut off (as another process sees it), then the same data back."""
    stack = servers
    before = _fingerprint(stack)
    pg, cache = _url(stack, "pg"), _url(stack, "cache")
    targets: tuple[str, ...]
    if kind == "datastore_empty":
        targets, check = (
            ("pg", "my", "cache"),
            _script("empty", pg, cache, _url(stack, "my").rsplit("/", 1)[1]),
        )
    else:
        targets, check = ("pg", "cache"), _script("unavailable", pg, cache)
    method = [*({"fault": {"kind": kind, "component": c}} for c in targets), check]
    record = run_experiment(parse_experiment(_exp(method)), stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, (record.notes, record.restore, record.run)
    assert [f.planned.target for f in record.faults] == list(targets)
    assert all(r["ok"] for r in record.restore), record.restore
    assert _fingerprint(stack) == before


@pytest.mark.parametrize(
    "faults",
    [
        {"pg": "datastore_empty", "my": "datastore_empty", "cache": "datastore_unavailable"},
        {"pg": "datastore_unavailable", "cache": "datastore_empty"},
    ],
    ids=["empty-pg-my,unavailable-redis", "unavailable-pg,empty-redis"],
)
def test_chaos_restore_after_a_sigkilled_runner_brings_server_data_back(
    servers: StackConfig, tmp_path: Path, faults: dict[str, str]
) -> None:
    """SIGKILL while the faults act: `seawall chaos restore` restores every datastore; twice is harmless."""
    stack = servers
    before = _fingerprint(stack)
    method: list[dict[str, Any]] = [{"fault": {"kind": k, "component": c}} for c, k in faults.items()]
    experiment = write_experiment(tmp_path / "exp.yaml", _exp([*method, {"pause": "60s"}]))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    assert stack.source is not None
    runner = subprocess.Popen([sys.executable, str(script), str(stack.source), str(experiment)])

    def applied() -> bool:
        with Ledger(stack.state_dir) as ledger:
            return len([e for e in ledger.entries() if e.state == "active"]) == len(faults)

    try:
        wait_for(applied, timeout=60, what="every datastore fault applied")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    cache = redis.Redis.from_url(_url(stack, "cache"), socket_timeout=3)
    if faults["cache"] == "datastore_empty":
        assert cache.dbsize() == 0
    else:
        with pytest.raises(redis.AuthenticationError):
            cache.ping()
    cache.close()
    done = run_cli(tmp_path, "-f", str(stack.source), "chaos", "restore")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _fingerprint(stack) == before
    again = run_cli(tmp_path, "-f", str(stack.source), "chaos", "restore")
    assert again.returncode == 0
    assert "nothing to restore" in again.stdout
