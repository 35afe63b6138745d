"""SQLite: the online backup API into a staged copy (WAL included), integrity_check, fingerprint."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import CHUNK
from seawall.backup.sources.base import DumpInfo, Target

_MASK = (1 << 64) - 1


def _connect(path: Path, mode: str = "rwc") -> sqlite3.Connection:
    try:
        # as_uri() escapes the path: a raw '#' or '?' in it would end the file name and open another file
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open SQLite database {path}: {exc}") from exc


def fingerprint_db(db: sqlite3.Connection) -> dict[str, Any]:
    """Per table: row count and an order-independent hash of the rows."""
    tables: dict[str, Any] = {}
    names = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    for (name,) in names:
        quoted = '"' + name.replace('"', '""') + '"'
        count, total = 0, 0
        for row in db.execute(f"SELECT * FROM {quoted}"):
            digest = hashlib.sha256(repr(row).encode()).digest()
            total = (total + int.from_bytes(digest[:8], "big")) & _MASK
            count += 1
        tables[name] = {"rows": count, "hash": f"{total:016x}"}
    return {"tables": tables}


def _integrity(db: sqlite3.Connection, what: str) -> None:
    result = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    if result != ["ok"]:
        raise BackupError(f"{what} fails PRAGMA integrity_check: {'; '.join(result[:3])}")


@dataclass
class _SqliteDump:
    stream: BinaryIO
    size_hint: int | None
    info: DumpInfo = field(default_factory=lambda: DumpInfo(format="sqlite"))

    def finish(self) -> DumpInfo:
        return self.info


class SqliteDatastore:
    """The copy is staged because the backup API needs a database to write into; it is deleted after."""

    kind = "sqlite"
    extension = ".sqlite"

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[_SqliteDump]:
        """Copy with the backup API (one step: a consistent snapshot even while the app writes)."""
        assert target.path is not None
        if not target.path.is_file():
            raise BackupError(f"SQLite database {target.path} does not exist")
        copy = staging / "copy.sqlite"
        try:
            with closing(_connect(target.path, "ro")) as src, closing(_connect(copy)) as dst:
                src.backup(dst)
                _integrity(dst, f"the copy of {target.path}")
                fingerprint = fingerprint_db(dst)
                version = sqlite3.sqlite_version
            dst_size = copy.stat().st_size
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                # the copy is staged in the repository: its disk is full, as for any artifact
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(copy)) from exc
            raise BackupError(f"cannot back up {target.path}: {exc}") from exc
        info = DumpInfo(format="sqlite", tool_versions={"sqlite": version}, fingerprint=fingerprint)
        with open(copy, "rb") as stream:
            yield _SqliteDump(stream, dst_size, info)
        copy.unlink(missing_ok=True)

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Stage the file, check it, then copy it into the target through the backup API."""
        assert target.path is not None
        staged = staging / "restore.sqlite"
        with open(staged, "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(_connect(staged, "ro")) as src, closing(_connect(target.path)) as dst:
                _integrity(src, "the backed-up database")
                # the backup API replaces the target's pages in one transaction, under the app's feet
                src.backup(dst)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot restore into {target.path}: {exc}") from exc
        finally:
            staged.unlink(missing_ok=True)
        return []

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Fingerprint of a database file."""
        assert target.path is not None
        try:
            with closing(_connect(target.path, "ro")) as db:
                return fingerprint_db(db)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot read {target.path}: {exc}") from exc

    def is_empty(self, target: Target) -> bool:
        """Missing, zero-length or without tables."""
        assert target.path is not None
        if not target.path.is_file() or target.path.stat().st_size == 0:
            return True
        return not self.fingerprint(target)["tables"]

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A database file in a temporary directory."""
        with tempfile.TemporaryDirectory(prefix="seawall-verify-") as tmp:
            yield Target(kind="sqlite", path=Path(tmp) / "scratch.sqlite")
