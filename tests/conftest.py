"""Fixtures every test package shares: scratch databases on the shared servers and Redis keys of our own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
import redis

from _helpers import PG_SERVER, REDIS_DB, RedisScratch, mariadb_admin


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[str]:
    """An empty scratch PostgreSQL database ``seawall_test_<random>``, dropped afterwards; yields its URL."""
    name = f"seawall_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}".encode())
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


@pytest.fixture(scope="module")
def mariadb_db() -> Iterator[str]:
    """An empty scratch MariaDB database ``seawall_test_<random>``, dropped afterwards; yields its name."""
    name = f"seawall_test_{secrets.token_hex(6)}"
    admin = mariadb_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def redis_scratch() -> Iterator[RedisScratch]:
    """Keys under a random prefix in db 15 of the shared Redis server; they are deleted afterwards."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    scratch = RedisScratch(client, f"seawall-test:{secrets.token_hex(6)}:")
    try:
        yield scratch
    finally:
        keys = list(client.scan_iter(match=f"{scratch.prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
