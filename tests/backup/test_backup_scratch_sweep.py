"""Scratch databases left by a killed `verify --deep` are dropped by the next one, and only those."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable

import psycopg
import pymysql
import pytest

from seawall.backup import create_backup, verify_backup
from seawall.backup.sources import _scratch
from seawall.config import StackConfig

MakeStack = Callable[..., StackConfig]
PG = "postgresql://postgres@127.0.0.1:5432"


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def _names(pid: int, host: str | None = None) -> str:
    name = _scratch.scratch_name()
    name = re.sub(r"_(\d+)_", f"_{pid}_", name, count=1)
    return name if host is None else name.replace(_scratch._host(), host, 1)


def test_only_this_hosts_dead_makers_are_stale() -> None:
    dead, alive = _dead_pid(), os.getpid()
    names = [_names(dead), _names(alive), _names(dead, host="ffffff"), "seawall_verify_abc", "app"]
    if _scratch._host() == "ffffff":  # pragma: no cover - one host in 16 million
        pytest.skip("this host hashes to the other host's name")
    assert _scratch.stale(names) == [names[0]]
    assert len(_scratch.scratch_name()) < 63  # PostgreSQL's identifier limit


@pytest.mark.integration
def test_postgres_verify_sweeps_what_a_killed_verify_left(make_stack: MakeStack, postgres_db: str) -> None:
    stale, live = _names(_dead_pid()), _names(os.getpid())
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        for name in (stale, live):
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        stack = make_stack({"db": {"datastore": {"kind": "postgres", "url": postgres_db}}})
        backup = create_backup(stack, components=["db"])
        assert verify_backup(stack, backup.id, deep=True).ok
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            rows = admin.execute(b"SELECT datname FROM pg_database WHERE datname LIKE 'seawall_verify_%'")
            left = {str(r[0]) for r in rows.fetchall()}
        assert stale not in left
        assert live in left  # its maker (this test) is alive: never touched
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            for name in (stale, live):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"'.encode())


@pytest.mark.integration
def test_mariadb_verify_sweeps_what_a_killed_verify_left(make_stack: MakeStack, mariadb_db: str) -> None:
    stale, live = _names(_dead_pid()), _names(os.getpid())
    admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    try:
        with admin.cursor() as cur:
            for name in (stale, live):
                cur.execute(f"CREATE DATABASE `{name}`")
        stack = make_stack(
            {"db": {"datastore": {"kind": "mysql", "url": f"mysql://root@127.0.0.1/{mariadb_db}"}}}
        )
        with admin.cursor() as cur:
            cur.execute(f"CREATE TABLE `{mariadb_db}`.t (x INT)")
            cur.execute(f"INSERT INTO `{mariadb_db}`.t VALUES (1)")
        backup = create_backup(stack, components=["db"])
        assert verify_backup(stack, backup.id, deep=True).ok
        with admin.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            left = {str(r[0]) for r in cur.fetchall()}
        assert stale not in left
        assert live in left
    finally:
        with admin.cursor() as cur:
            for name in (stale, live):
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
