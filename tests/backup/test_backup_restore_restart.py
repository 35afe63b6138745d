"""Whom a restore stops (transitively), how it starts them again (waited on until ready), and --dry-run."""

from __future__ import annotations

import _thread
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from _helpers import delete_orders, free_port, order_count, run_cli
from seawall.backup import create_backup, list_backups, restore, show_backup
from seawall.backup.restore import RestartFailed, RestoreInterrupted
from seawall.backup.restore_plan import users
from seawall.config import StackConfig
from seawall.runtime import Runtime, get_runtime, shutdown

MakeStack = Callable[..., StackConfig]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def listener(port: int, delay: float) -> list[str]:
    """A service that takes ``delay`` seconds to open its port, then serves until killed.

    It fails at start (exit 3) while a file named ``broken`` is in its directory.
    """
    code = (
        "import os, socket, sys, time\n"
        "if os.path.exists('broken'): sys.exit(3)\n"
        f"time.sleep({delay})\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(600)\n"
    )
    return [sys.executable, "-c", code]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def chain(make_stack: MakeStack) -> Iterator[tuple[StackConfig, Runtime, int]]:
    """db (owns the SQLite file) <- api <- web (ready once its port is open, a second after start);
    ``other`` uses none of them."""
    port = free_port()
    stack = make_stack(
        {
            "db": {"command": SLEEPER, "datastore": {"kind": "sqlite", "path": "app.db"}},
            "api": {"command": SLEEPER, "depends_on": ["db"]},
            "web": {
                "command": listener(port, 1.0),
                "depends_on": ["api"],
                "start_timeout": "20s",
                "probes": {"ready": {"tcp": port, "period": "0.2s"}},
            },
            "other": {"command": SLEEPER},
        }
    )
    runtime = get_runtime(stack)
    try:
        runtime.start(["db", "api", "web", "other"])
        yield stack, runtime, port
    finally:
        runtime.close()
        shutdown(stack)


def pids(runtime: Runtime) -> dict[str, int | None]:
    return {s.name: (s.pid if s.alive else None) for s in runtime.status(())}


def all_alive(runtime: Runtime) -> dict[str, int | None]:
    deadline = time.monotonic() + 20
    while True:
        status = pids(runtime)
        if all(status.values()) or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_users_are_the_owner_and_every_transitive_dependent_in_start_order(make_stack: MakeStack) -> None:
    stack = make_stack(
        {
            "web": {"command": SLEEPER, "depends_on": ["api"]},
            "api": {"command": SLEEPER, "depends_on": ["db", "cache"]},
            "db": {"command": SLEEPER, "datastore": {"kind": "sqlite", "path": "app.db"}},
            "cache": {"command": SLEEPER, "datastore": {"kind": "redis", "url": "redis://127.0.0.1:1"}},
            "other": {"command": SLEEPER},
        }
    )
    assert users(stack, ["db"]) == ["db", "api", "web"]
    # a server's data is restored through the server: it keeps running, its users stop
    assert users(stack, ["cache"]) == ["api", "web"]
    assert users(stack, ["stack-config"]) == []


@pytest.mark.integration
def test_a_restore_stops_the_whole_chain_and_returns_once_it_is_ready_again(
    chain: tuple[StackConfig, Runtime, int],
) -> None:
    stack, runtime, port = chain
    before = all_alive(runtime)
    assert all(before.values())
    backup = create_backup(stack, components=["db"])
    delete_orders(stack.root / "app.db", 10)
    result = restore(stack, backup.id, force=True, runtime=runtime)
    assert result.stopped == ("db", "api", "web")
    # returned only once web's readiness probe passed: its port is open now, not in a second
    assert accepts(port)
    assert result.restart_seconds >= 1.0
    assert result.seconds >= result.restart_seconds  # the RTO ends when the service is back
    after = pids(runtime)
    assert all(after.values())
    assert {n for n in ("db", "api", "web") if after[n] == before[n]} == set()
    assert after["other"] == before["other"]
    assert order_count(stack.root / "app.db") == 500


@pytest.mark.integration
def test_a_service_that_does_not_come_back_is_reported_and_the_restore_still_stands(
    chain: tuple[StackConfig, Runtime, int],
) -> None:
    stack, runtime, _ = chain
    all_alive(runtime)
    backup = create_backup(stack, components=["db"])
    delete_orders(stack.root / "app.db", 10)
    (stack.root / "broken").touch()  # web exits 3 when started again
    with pytest.raises(RestartFailed) as caught:
        restore(stack, backup.id, force=True, runtime=runtime)
    message = str(caught.value)
    assert f"restore of {backup.id} is complete and its fingerprints match" in message
    assert "'web'" in message
    assert "seawall up db api web" in (caught.value.hint or "")
    assert caught.value.exit_code == 1
    assert order_count(stack.root / "app.db") == 500
    restores = show_backup(stack, backup.id).restores
    assert [r["ok"] for r in restores] == [True]


@pytest.mark.integration
def test_dry_run_checks_everything_says_what_it_would_do_and_writes_nothing(
    chain: tuple[StackConfig, Runtime, int],
) -> None:
    stack, runtime, _ = chain
    before = all_alive(runtime)
    backup = create_backup(stack, components=["db"])
    delete_orders(stack.root / "app.db", 10)
    count = len(list_backups(stack).backups)

    wide = {**os.environ, "COLUMNS": "200"}
    refused = run_cli(stack.root, "restore", backup.id, "--dry-run", env=wide)
    assert refused.returncode == 2, refused.stderr
    assert "refused without --force" in refused.stdout
    assert "would stop, then start again and wait until ready: db, api, web" in refused.stdout
    assert "restoring would overwrite existing data: db" in refused.stdout

    forced = run_cli(stack.root, "restore", backup.id, "--dry-run", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    plan: dict[str, Any] = json.loads(forced.stdout)
    assert plan["id"] == backup.id
    assert plan["stop"] == ["db", "api", "web"]
    assert plan["safety_backup"] is True
    assert plan["refused"] is None
    assert [(t["component"], t["occupied"]) for t in plan["targets"]] == [("db", True)]

    # nothing written, nobody stopped, no safety backup taken
    assert order_count(stack.root / "app.db") == 10
    assert pids(runtime) == before
    assert len(list_backups(stack).backups) == count
    assert show_backup(stack, backup.id).restores == ()


@pytest.mark.integration
def test_dry_run_fails_as_the_restore_would_on_a_damaged_artifact(make_stack: MakeStack) -> None:
    stack = make_stack()
    backup = create_backup(stack)
    assert backup.manifest is not None
    art = backup.manifest.artifacts[0]
    path = stack.root / "repo" / stack.stack / backup.id / art.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run_cli(stack.root, "restore", backup.id, "--dry-run", "--force")
    assert result.returncode == 1
    assert art.file in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_ctrl_c_while_waiting_for_readiness_says_the_data_is_restored(make_stack: MakeStack) -> None:
    port = free_port()
    stack = make_stack(
        {
            "db": {"command": SLEEPER, "datastore": {"kind": "sqlite", "path": "app.db"}},
            "web": {
                "command": listener(port, 600.0),  # never ready while the test runs
                "depends_on": ["db"],
                "start_timeout": "30s",
                "probes": {"ready": {"tcp": port, "period": "0.2s"}},
            },
        }
    )
    runtime = get_runtime(stack)
    try:
        runtime.start(["db", "web"])
        all_alive(runtime)
        backup = create_backup(stack, components=["db"])
        delete_orders(stack.root / "app.db", 10)
        # Ctrl-C once the restart waits; a CI runner's background job starts with SIGINT ignored,
        # and then interrupt_main would do nothing
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        timer = threading.Timer(3.0, _thread.interrupt_main)
        timer.start()
        try:
            with pytest.raises(RestoreInterrupted) as caught:
                restore(stack, backup.id, force=True, runtime=runtime)
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, handler)
        assert "is complete and its fingerprints match" in str(caught.value)
        assert "interrupted" in str(caught.value)
        assert caught.value.exit_code == 130
        assert order_count(stack.root / "app.db") == 500
    finally:
        runtime.close()
        shutdown(stack)
