"""Files and volumes: a PAX tar stream (modes, owners, symlinks, mtimes), excludes, a tree hash."""

from __future__ import annotations

import fnmatch
import functools
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import CHUNK, produced
from seawall.backup.procs import Proc, run_tool
from seawall.backup.sources._tarstream import HashingReader, Tree, TreeTap, tree_line
from seawall.backup.sources.base import Dump, DumpInfo, Target
from seawall.errors import SeawallError


class HostileMember(BackupError):
    """A tar member would be written outside the restore target."""


def excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    """A path (relative, POSIX) matches an exclude pattern by full path or by name."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _walk(root: Path, patterns: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """Every entry under root (not root itself), parents first, in sorted order, excludes pruned."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            rel = (base / d).relative_to(root).as_posix()
            if not excluded(rel, patterns):
                keep.append(d)
                yield rel, base / d
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = (base / f).relative_to(root).as_posix()
            if not excluded(rel, patterns):
                yield rel, base / f


def entries(target: Target) -> Iterator[tuple[str, Path]]:
    """What a target holds: the listed files (the stack's config) or the whole tree."""
    root = target.path
    assert root is not None
    if not target.files:
        yield from _walk(root, target.exclude)
        return
    for rel in target.files:
        if (root / rel).is_file():
            yield rel, root / rel


def _entry(rel: str, st: os.stat_result, content: str = "", link: str = "") -> str:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return tree_line("l", rel, digest=link)
    if stat.S_ISDIR(st.st_mode):
        return tree_line("d", rel, mode)
    return tree_line("f", rel, mode, st.st_size, int(st.st_mtime), content)


@functools.lru_cache(maxsize=256)
def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=256)
def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _tarinfo(rel: str, path: Path, st: os.stat_result) -> tarfile.TarInfo:
    """Like ``TarFile.gettarinfo`` minus a passwd lookup per file (a hard link is stored as a copy).

    The mtime is whole seconds, as GNU tar writes it (``_tar_argv``): no PAX header per file.
    """
    info = tarfile.TarInfo(rel)
    info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    info.mtime, info.uname, info.gname = int(st.st_mtime), _user(st.st_uid), _group(st.st_gid)
    if stat.S_ISREG(st.st_mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    return info


class _Counting:
    """A pipe with ``tell``: lets tarfile's plain "w" mode write straight through.

    Stream mode ("w|") funnels every write through a bytes buffer grown by concatenation,
    which costs more than the rest of the archive for trees of many small files.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.offset = out, 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset


def _write_tar(target: Target, out: BinaryIO, tree: Tree) -> None:
    sink = cast(BinaryIO, _Counting(out))
    with tarfile.TarFile(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as tar:
        for rel, path in entries(target):
            st = path.lstat()
            info = _tarinfo(rel, path, st)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    hashing = HashingReader(f, tree.digest)
                    tar.addfile(info, cast(BinaryIO, hashing))
                tree.lines.append(_entry(rel, st, hashing.sha.hexdigest()))
                tree.bytes += st.st_size
            elif stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
                tar.addfile(info)
                tree.lines.append(_entry(rel, st, link=info.linkname))
            # sockets, fifos and devices are not data: skipped on purpose


def tree_fingerprint(target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tree hash of a directory (or of the listed files) as it is on disk, made as ``like`` was."""
    tree = Tree.like(like)
    for rel, path in entries(target):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            sha = tree.digest()
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    sha.update(chunk)
            tree.lines.append(_entry(rel, st, sha.hexdigest()))
            tree.bytes += st.st_size
        elif stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            tree.lines.append(_entry(rel, st, link=os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""))
    return tree.result()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def guard(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """Reject a member that would land, or write through a link, outside ``dest`` (a realpath)."""
    name = member.name
    if not name or name.startswith("/") or ".." in PurePosixPath(name).parts:
        raise HostileMember(f"refusing tar member {name!r}: it points outside the restore target")
    full = os.path.join(dest, name)
    if not _inside(os.path.realpath(os.path.dirname(full)), dest):
        raise HostileMember(f"refusing tar member {name!r}: its directory is a link out of the target")
    if os.path.islink(full):
        raise HostileMember(f"refusing tar member {name!r}: it would be written through a symlink")
    if member.islnk() and not _inside(os.path.realpath(os.path.join(dest, member.linkname)), dest):
        raise HostileMember(f"refusing tar member {name!r}: a hard link to {member.linkname!r}")
    if member.ischr() or member.isblk():
        raise HostileMember(f"refusing tar member {name!r}: device files are not restored")
    return member


def extract(stream: BinaryIO, dest: Path) -> None:
    """Extract a tar stream into ``dest``, every member checked by ``guard`` first."""
    dest.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(dest)
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as tar:
            # the stream mode slices its buffer on each read: 16 KiB reads copied 1 MiB 64 times
            tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # a real attribute typeshed omits
            tar.extractall(real, filter=lambda m, _p: guard(m, real), numeric_owner=True)
    except tarfile.TarError as exc:
        raise BackupError(f"the archive is damaged: {exc}") from exc


def clear(target: Target) -> None:
    """Remove what a restore replaces; excluded paths stay (they are not in the backup either)."""
    for _, path in sorted(entries(target), key=lambda e: e[0].count("/"), reverse=True):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        elif not any(path.iterdir()):
            path.rmdir()


@dataclass
class _FilesDump:
    stream: BinaryIO
    size_hint: int | None
    tree: Tree
    notes: list[str] = field(default_factory=list)

    def finish(self) -> DumpInfo:
        return DumpInfo(format="tar-pax", fingerprint=self.tree.result(), notes=self.notes)


@dataclass
class _GnuTarDump:
    proc: Proc
    tap: TreeTap
    names: _Names
    size_hint: int | None = None
    parsed_here = True  # the tap's work shares a thread with the compressor's feed: writes go behind

    @property
    def stream(self) -> TreeTap:
        return self.tap

    def finish(self) -> DumpInfo:
        self.names.thread.join()
        self.proc.finish()  # any warning (a file vanished or changed while read) fails the datastore
        errors = self.names.errors
        if errors and not isinstance(errors[0], BrokenPipeError):
            raise errors[0]
        self.tap.check()
        return DumpInfo(
            format="tar-pax", tool_versions={"tar": gnu_tar_version()}, fingerprint=self.tap.tree.result()
        )


@functools.lru_cache(maxsize=1)
def gnu_tar_version() -> str:
    """GNU tar's version line, or "" when ``tar`` is missing or another tar (then Python writes the tar)."""
    path = shutil.which("tar")
    if path is None:
        return ""
    try:
        first = (run_tool([path, "--version"]).splitlines() or [""])[0]
    except SeawallError:
        return ""
    return first if "GNU tar" in first else ""


def _scan(root: str, rel: str, patterns: tuple[str, ...]) -> Iterator[bytes]:
    """``_walk`` without pathlib and without a stat per file (tar makes its own): each name for tar."""
    with os.scandir(os.path.join(root, rel) if rel else root) as it:
        found = sorted(it, key=lambda e: e.name)
    for entry in found:
        name = f"{rel}/{entry.name}" if rel else entry.name
        if patterns and excluded(name, patterns):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield os.fsencode(name)
            yield from _scan(root, name, patterns)
        elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
            yield os.fsencode(name)
        # sockets, fifos and devices are not data: skipped on purpose


def _listing(target: Target) -> Iterator[bytes]:
    """The names tar is to archive: regular files, directories, symlinks."""
    assert target.path is not None
    if not target.files:
        yield from _scan(str(target.path), "", target.exclude)
        return
    for rel, _ in entries(target):
        yield os.fsencode(rel)


class _Names:
    """Feeds tar the listing while it is made, so tar reads files while the walk goes on.

    No file is stat'ed here: a stat per file, only for a progress total, cost 0.12 CPU-s per 50,000
    files on top of tar's own, and it is CPU the 2 cores' tar and zstd wanted. The progress total
    comes from the component's previous backup instead (``create``).
    """

    BATCH = 512  # names per write: fewer system calls, and tar starts after the first batch

    def __init__(self, target: Target, stdin: IO[bytes]) -> None:
        self.errors: list[BaseException] = []
        self._target, self._stdin = target, stdin
        self.thread = threading.Thread(target=self._feed, name="seawall-tar-names", daemon=True)

    def _feed(self) -> None:
        try:
            with self._stdin:
                batch: list[bytes] = []
                for name in _listing(self._target):
                    batch.append(name)
                    if len(batch) >= self.BATCH:
                        self._stdin.write(b"\0".join(batch) + b"\0")
                        self._stdin.flush()
                        batch.clear()
                if batch:
                    self._stdin.write(b"\0".join(batch) + b"\0")
        except BaseException as exc:
            self.errors.append(exc)


def _tar_argv(root: Path) -> list[str]:
    return [
        shutil.which("tar") or "tar",
        "--create",
        "--file=-",
        "--format=posix",
        "--blocking-factor=128",  # 64 KiB writes into the pipe
        # atime changes on every read and ctime on every restore: not data. mtime is kept to the
        # second, in the ustar header: its sub-second part cost a PAX header per file (1 KiB, 12 %
        # more stream on a tree of small files, 5 % more wall time), and GNU tar's own format,
        # pgBackRest and `docker export` keep whole seconds too
        "--pax-option=delete=atime,delete=ctime,delete=mtime",
        "--hard-dereference",  # a hard link is stored as a copy, as the Python writer does
        "--no-recursion",  # the listing decides (excludes, skipped types), in its order
        "--null",
        "--verbatim-files-from",  # a name starting with "-" is a name, not an option
        f"--directory={root}",  # before --files-from: tar's -C is positional
        "--files-from=-",
    ]


class FilesDatastore:
    """A directory tree; the fingerprint is computed from the very bytes put into the tar."""

    kind = "files"
    extension = ".tar"

    @contextmanager
    def dump(self, target: Target, staging: Path) -> Iterator[Dump]:
        """GNU tar reads the files (the tree hash is taken from its stream); else Python writes the tar."""
        root = target.path
        assert root is not None
        if not root.is_dir():
            raise BackupError(f"directory {root} does not exist")
        if not gnu_tar_version():
            tree = Tree()
            with produced(lambda out: _write_tar(target, out, tree)) as reader:
                yield _FilesDump(reader, None, tree)
            return
        with Proc(_tar_argv(root), stdin=subprocess.PIPE) as proc:
            assert proc.popen.stdin is not None
            assert proc.stdout is not None
            names = _Names(target, proc.popen.stdin)
            names.thread.start()
            try:
                yield _GnuTarDump(proc, TreeTap(proc.stdout), names)
            finally:
                proc.kill()
                names.thread.join()

    def restore(self, stream: BinaryIO, target: Target, staging: Path) -> list[str]:
        """Empty the target (excluded paths stay) and extract."""
        assert target.path is not None
        if target.path.exists():
            clear(target)
        extract(stream, target.path)
        return []

    def fingerprint(self, target: Target, like: dict[str, Any] | None = None) -> dict[str, Any]:
        """Tree hash of the directory."""
        assert target.path is not None
        if not target.path.is_dir():
            raise BackupError(f"directory {target.path} does not exist")
        return tree_fingerprint(target, like)

    def is_empty(self, target: Target) -> bool:
        """Missing, or nothing but excluded paths."""
        assert target.path is not None
        return not target.path.is_dir() or next(entries(target), None) is None

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A temporary directory."""
        with tempfile.TemporaryDirectory(prefix="seawall-verify-") as tmp:
            yield Target(kind=like.kind, path=Path(tmp) / "data", exclude=like.exclude, files=like.files)
