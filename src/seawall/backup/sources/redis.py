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

from seawall import clock
from seawall.backup.pipeline import CHUNK
from seawall.backup.procs import find_tool, run_tool
from seawall.backup.sources._redis_client import client as _client
from seawall.backup.sources._redis_client import error as _error
from seawall.backup.sources._redis_client import private_server, scope, scoped
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


FINGERPRINT_METHOD = "redis-2"


def _key_hash(client: redis.Redis, key: bytes) -> tuple[int, int]:
    """64 bits of the key's hash over name, type and value, and its PTTL (-1: it does not expire)."""
    raw = client.type(key)
    kind = raw.decode() if isinstance(raw, bytes) else raw
    digest = hashlib.sha256(key + b"\0" + kind.encode() + b"\0" + _value(client, key, kind)).digest()
    return int.from_bytes(digest[:8], "big"), int(client.pttl(key))


def fingerprint_server(
    url: str, method: str | None = FINGERPRINT_METHOD, db: int | None = None
) -> dict[str, Any]:
    """Per database: key count and an order-independent digest over keys, types and values.

    Keys with a time to live are counted apart (``expiring``), with the moment the first of them
    expires (``valid_until``, Unix seconds): a restore after that moment legitimately lacks some
    of them, so ``verify.compare`` leaves that part out then. ``method=None``: the first format,
    every key in one digest, for backups recorded with it. ``db``: that logical database only.
    """
    result: dict[str, Any] = {}
    try:
        for number in _databases(_client(url)) if db is None else [db]:
            client = _client(url, number)
            lasting, expiring, first = [0, 0], [0, 0], None
            for key in client.scan_iter(count=1000):
                value, ttl = _key_hash(client, key)
                if ttl == -2:
                    continue  # expired while we scanned
                part = expiring if ttl >= 0 and method is not None else lasting
                part[0] += 1
                part[1] = (part[1] + value) & _MASK
                if ttl >= 0:
                    first = min(first, ttl) if first is not None else ttl
            entry: dict[str, Any] = {}
            if lasting[0]:
                entry = {"keys": lasting[0], "digest": f"{lasting[1]:016x}"}
            if expiring[0] and first is not None:
                until = round(clock.now() + first / 1000, 3)
                digest = f"{expiring[1]:016x}"
                entry["expiring"] = {"keys": expiring[0], "digest": digest, "valid_until": until}
            if entry:
                result[f"db{number}"] = entry
    except redis.RedisError as exc:
        raise _error(exc, url, "fingerprint failed") from exc
    if method is None:
        return {"databases": result}
    return {"method": method, "databases": result}


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
        db = scope(target.url)
        with private_server(staging) as url:
            fingerprint = fingerprint_server(url, db=db)
            others = [n for n in _databases(_client(url)) if db is not None and n != db]
        if others:
            names = ", ".join(f"db{n}" for n in others)
            notes.append(
                f"the server also holds keys in {names}, not in this backup: the URL names db {db}"
                " (leave the number out to back up the whole server)"
            )
        version = run_tool([cli, "--version"]).strip()
        dump_info = DumpInfo(
            format="rdb",
            tool_versions={"redis-cli": version},
            server_version=str(info.get("redis_version")),
            position={
                "master_repl_offset": info.get("master_repl_offset"),
                "run_id": info.get("run_id"),
                "snapshot": snapshot.method,
            }
            | ({"database": db} if db is not None else {}),
            fingerprint=fingerprint,
            notes=notes,
        )
        with open(rdb, "rb") as stream:
            yield _RedisDump(stream, os.path.getsize(rdb), dump_info)

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Load into a private server, then empty the target and copy every key with its TTL.

        The target's URL says what is replaced: the logical database it names (and only that one
        is copied from the backup), or, naming none, the whole server.
        """
        assert target.url is not None
        db = scope(target.url)
        with open(staging / "dump.rdb", "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        with private_server(staging) as source_url:
            try:
                _probe_restore(_client(source_url), _client(target.url))
                if db is None:
                    _client(target.url).flushall()
                else:
                    _client(target.url, db).flushdb()
                for number in _databases(_client(source_url)) if db is None else [db]:
                    self._copy(_client(source_url, number), _client(target.url, number))
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
                if payload is not None and ttl != 0:  # 0: expiring now; RESTORE would make it permanent
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
        """Key counts and digests of every database (in the format ``like`` was recorded in)."""
        assert target.url is not None
        method = like.get("method") if like is not None else FINGERPRINT_METHOD
        return fingerprint_server(target.url, method, scope(target.url))

    def is_empty(self, target: Target) -> bool:
        """No keys in the database the URL names, or in any when it names none."""
        assert target.url is not None
        db = scope(target.url)
        try:
            if db is not None:
                return not _client(target.url, db).dbsize()
            return not _databases(_client(target.url))
        except redis.RedisError as exc:
            raise _error(exc, target.url, "connection failed") from exc

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A private, empty redis-server, whole (``as_recorded`` narrows it to a backup's scope)."""
        with tempfile.TemporaryDirectory(prefix="seawall-verify-") as tmp, private_server(Path(tmp)) as url:
            yield Target(kind="redis", url=scoped(url, None))
