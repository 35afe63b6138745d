"""Redis: an RDB snapshot (replication, else BGSAVE: ``redis_snapshot``), checked, restored key by key.

The whole server is the unit (every logical database). A restore loads the RDB into a private
``redis-server`` (appendonly off, so the RDB is what it loads) and copies each key into the target
with DUMP/RESTORE: the target's own persistence, AOF included, records the restored keys, so a
restore is never silently ignored the way an RDB file dropped beside an AOF is.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import redis

from seawall.backup.pipeline import CHUNK
from seawall.backup.procs import find_tool, run_tool
from seawall.backup.sources._redis_client import client as _client
from seawall.backup.sources._redis_client import error as _error
from seawall.backup.sources._redis_client import private_server
from seawall.backup.sources.base import DumpInfo, Target
from seawall.backup.sources.redis_snapshot import take_snapshot

_MASK = (1 << 64) - 1
_BATCH = 500


def _databases(client: redis.Redis) -> list[int]:
    info: dict[str, Any] = client.info("keyspace")
    return sorted(int(name[2:]) for name in info if name.startswith("db"))


def _value(client: redis.Redis, key: bytes, kind: str) -> bytes:
    if kind == "string":
        return repr(client.get(key)).encode()
    if kind == "hash":
        return repr(sorted(client.hgetall(key).items())).encode()
    if kind == "list":
        return repr(client.lrange(key, 0, -1)).encode()
    if kind == "set":
        return repr(sorted(client.smembers(key))).encode()
    if kind == "zset":
        return repr(client.zrange(key, 0, -1, withscores=True)).encode()
    if kind == "stream":
        return repr(client.xrange(key)).encode()
    return bytes(client.dump(key) or b"")


def fingerprint_server(url: str) -> dict[str, Any]:
    """Per database: key count and an order-independent digest over keys, types and values."""
    result: dict[str, Any] = {}
    try:
        for db in _databases(_client(url)):
            client = _client(url, db)
            count, total = 0, 0
            for key in client.scan_iter(count=1000):
                raw = client.type(key)
                kind = raw.decode() if isinstance(raw, bytes) else raw
                digest = hashlib.sha256(key + b"\0" + kind.encode() + b"\0" + _value(client, key, kind))
                total = (total + int.from_bytes(digest.digest()[:8], "big")) & _MASK
                count += 1
            if count:
                result[f"db{db}"] = {"keys": count, "digest": f"{total:016x}"}
    except redis.RedisError as exc:
        raise _error(exc, url, "fingerprint failed") from exc
    return {"databases": result}


@dataclass
class _RedisDump:
    stream: BinaryIO
    size_hint: int | None
    info: DumpInfo

    def finish(self) -> DumpInfo:
        return self.info


def _probe_restore(src: redis.Redis, dst: redis.Redis) -> None:
    """RESTORE and DEL one key of our own on the target before FLUSHALL empties it.

    A target that refuses RESTORE (renamed, an ACL) or cannot read this server's DUMP payloads
    (an older version) fails here, while its data is still untouched.
    """
    key = f"seawall:restore-probe:{secrets.token_hex(8)}"
    src.set(key, b"probe")
    payload = src.dump(key)
    src.delete(key)
    assert payload is not None  # the key was just set
    dst.restore(key, 0, payload, replace=True)
    dst.delete(key)


class RedisDatastore:
    """Staged RDB file (redis-check-rdb needs a file; the RDB is bounded by the server's memory)."""

    kind = "redis"
    extension = ".rdb"

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[_RedisDump]:
        """--rdb over replication, redis-check-rdb, fingerprint of the snapshot in a private server."""
        assert target.url is not None
        cli = find_tool("redis-cli")
        try:
            info: dict[str, Any] = _client(target.url).info()
        except redis.RedisError as exc:
            raise _error(exc, target.url, "connection failed") from exc
        rdb = staging / "dump.rdb"
        snapshot = take_snapshot(target.url, rdb)
        notes = list(snapshot.notes)
        checker = shutil.which("redis-check-rdb")
        if checker:
            run_tool([checker, str(rdb)])
        else:
            notes.append("redis-check-rdb is not installed: the snapshot was not checked")
        with private_server(staging) as url:
            fingerprint = fingerprint_server(url)
        version = run_tool([cli, "--version"]).strip()
        dump_info = DumpInfo(
            format="rdb",
            tool_versions={"redis-cli": version},
            server_version=str(info.get("redis_version")),
            position={
                "master_repl_offset": info.get("master_repl_offset"),
                "run_id": info.get("run_id"),
                "snapshot": snapshot.method,
            },
            fingerprint=fingerprint,
            notes=notes,
        )
        with open(rdb, "rb") as stream:
            yield _RedisDump(stream, os.path.getsize(rdb), dump_info)

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Load into a private server, then FLUSHALL the target and copy every key with its TTL."""
        assert target.url is not None
        with open(staging / "dump.rdb", "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        with private_server(staging) as source_url:
            try:
                _probe_restore(_client(source_url), _client(target.url))
                _client(target.url).flushall()
                for db in _databases(_client(source_url)):
                    self._copy(_client(source_url, db), _client(target.url, db))
            except redis.RedisError as exc:
                raise _error(exc, target.url, "restore failed") from exc
        return ["restored key by key with DUMP/RESTORE (the target's AOF records them)"]

    @staticmethod
    def _copy(src: redis.Redis, dst: redis.Redis) -> None:
        batch: list[bytes] = []

        def flush() -> None:
            read = src.pipeline(transaction=False)
            for key in batch:
                read.dump(key)
                read.pttl(key)
            values = read.execute()
            write = dst.pipeline(transaction=False)
            for i, key in enumerate(batch):
                payload, ttl = values[2 * i], values[2 * i + 1]
                if payload is not None:
                    write.restore(key, max(0, ttl), payload, replace=True)
            write.execute()
            batch.clear()

        for key in src.scan_iter(count=1000):
            batch.append(key)
            if len(batch) >= _BATCH:
                flush()
        if batch:
            flush()

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Key counts and digests of every database."""
        assert target.url is not None
        return fingerprint_server(target.url)

    def is_empty(self, target: Target) -> bool:
        """No keys in any database."""
        assert target.url is not None
        try:
            return not _databases(_client(target.url))
        except redis.RedisError as exc:
            raise _error(exc, target.url, "connection failed") from exc

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A private, empty redis-server."""
        with tempfile.TemporaryDirectory(prefix="seawall-verify-") as tmp, private_server(Path(tmp)) as url:
            yield Target(kind="redis", url=url)
