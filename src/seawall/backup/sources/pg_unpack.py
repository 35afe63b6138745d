"""A directory-format artifact unpacked while ``pg_restore --jobs`` already works on it.

Unpacking a 1.1 GB dump before pg_restore could start took 0.6-1.2 s of a 7 s restore. The backup
writes ``seawall-dump.json`` (with the list of data files), then ``toc.dat``, then the data files
largest first: the order in which pg_restore's workers take them (its ready list is sorted by
size). So a restore starts pg_restore once ``toc.dat`` and the first ``jobs`` data files are out,
and unpacks the others while it works: pg_restore creates the schema, then loads the largest tables,
which takes far longer than unpacking the rest does.

pg_restore reads only regular files (it refuses a FIFO), and a file appears under its name only
once it is whole (written as ``NAME.part``, then renamed), so pg_restore never reads part of a
file: if it ever gets ahead of the unpacking, it fails to open the missing file, and the restore is
run again once everything is out (``overtaken``). Artifacts of the older layout (``toc.dat`` last)
are unpacked whole first, as before.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import CHUNK, Readable
from seawall.backup.sources.files import guard
from seawall.backup.sources.pg_directory import META, read_meta, recorded_jobs

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*")  # what pg_dump names its files: 3361.dat, blobs.toc
_Check = Callable[[tarfile.TarInfo, str], tarfile.TarInfo]


class Unpacking:
    """The members of a directory-format tar, written out in the order pg_restore needs them."""

    def __init__(self, stream: Readable, directory: Path) -> None:
        self.directory = directory
        self.jobs: int | None = None  # recorded by the backup
        self.files: list[str] = []  # the data files still to come, in the tar's order
        self._stream = stream
        self._tar: tarfile.TarFile | None = None
        self._real = ""
        self._ended = False  # the end of the tar was read

    def open(self) -> None:
        """Read the first member: the file list of a current artifact (else unpack the whole tar)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._real = os.path.realpath(self.directory)
        try:
            self._tar = tarfile.open(fileobj=cast(IO[bytes], self._stream), mode="r|", bufsize=CHUNK)  # noqa: SIM115
        except tarfile.TarError as exc:
            raise BackupError(f"the archive is damaged: {exc}") from exc
        self._tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # see files.extract
        first = self._next()
        if first is not None and first.name == META and first.isfile():
            self._extract(first, self._plain)
            meta = read_meta(self.directory / META)
            self.jobs = recorded_jobs(meta)
            listed = self._listed(meta)
            if listed is not None:
                self.files = listed
                toc = self._next()
                if toc is None or toc.name != "toc.dat":
                    raise BackupError("the artifact is damaged: toc.dat does not follow the dump's file list")
                self._extract(toc, self._plain)
                return
            first = self._next()
        while first is not None:  # the older layout: everything out before pg_restore starts
            self._extract(first, lambda m, _p: guard(m, self._real))
            first = self._next()
        self._ended = True
        if not (self.directory / "toc.dat").is_file():
            raise BackupError("the artifact is not a pg_dump directory (no toc.dat in it)")
        if self.jobs is None:
            self.jobs = recorded_jobs(read_meta(self.directory / META))

    def _listed(self, meta: dict[str, Any]) -> list[str] | None:
        files = meta.get("files")
        if not isinstance(files, list):
            return None  # written before the list was: toc.dat comes last
        if not all(isinstance(f, str) and _PLAIN.fullmatch(f) and f not in (META, "toc.dat") for f in files):
            raise BackupError(f"the artifact is damaged: {META} lists a file name pg_dump does not write")
        if len(set(files)) != len(files):
            raise BackupError(f"the artifact is damaged: {META} lists a file twice")
        return files

    def _next(self) -> tarfile.TarInfo | None:
        assert self._tar is not None
        try:
            return self._tar.next()
        except tarfile.TarError as exc:
            raise BackupError(f"the archive is damaged: {exc}") from exc

    def _plain(self, member: tarfile.TarInfo, _path: str = "") -> tarfile.TarInfo:
        guard(member, self._real)
        if not member.isfile() or "/" in member.name:
            raise BackupError(f"the artifact is damaged: unexpected member {member.name!r}")
        return member

    def _extract(self, member: tarfile.TarInfo, check: _Check, name: str | None = None) -> None:
        assert self._tar is not None
        if name is not None:
            member = member.replace(name=name, deep=False)
        try:
            self._tar.extract(member, self._real, filter=check)
        except tarfile.TarError as exc:
            raise BackupError(f"the archive is damaged: {exc}") from exc
        except OSError as exc:
            raise BackupError(f"cannot unpack the dump into {self.directory}: {exc.strerror or exc}") from exc

    def take(self, count: int | None = None) -> None:
        """Unpack the next ``count`` data files (all when None), each renamed into place once whole."""
        while self.files and (count is None or count > 0):
            member = self._next()
            if member is None:
                raise BackupError(f"the artifact is damaged: {', '.join(self.files[:3])} missing from it")
            name = self._plain(member).name
            if name != self.files[0]:
                raise BackupError(f"the artifact is damaged: {name!r} where {self.files[0]!r} was expected")
            self._extract(member, self._plain, f"{name}.part")
            os.replace(self.directory / f"{name}.part", self.directory / name)
            self.files.pop(0)
            count = None if count is None else count - 1
        if not self.files and not self._ended:
            self._ended = True
            if self._next() is not None:
                raise BackupError("the artifact is damaged: members after the dump's last file")

    def close(self) -> None:
        """Close the tar (whatever was read of it)."""
        if self._tar is not None:
            self._tar.close()


__all__ = ["Unpacking"]
