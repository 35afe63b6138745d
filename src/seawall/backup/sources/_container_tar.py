"""Tar streams to and from a container: re-encoded as the files datastore's archive, checked member by member.

A tar made inside a container (busybox or GNU tar, ustar/GNU/PAX) is read as it streams and
written again as the POSIX (PAX) archive the files datastore makes on the host, with the same tree
hash: an artifact made through the engine restores into a host directory and the other way round.
On the way back in, every member is checked before the container's tar sees it; the archive is
re-written in GNU format, which busybox's tar reads too.
"""

from __future__ import annotations

import tarfile
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

from seawall.backup.errors import BackupError
from seawall.backup.pipeline import CHUNK
from seawall.backup.sources._tarstream import HashingReader, Tree, tree_line
from seawall.backup.sources.files import HostileMember, excluded

_FILE = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_KEPT = (*_FILE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)


def relative(name: str) -> str:
    """A member name as a path relative to the archive's root ("./a/b/" -> "a/b"; "./" -> "")."""
    while name.startswith("./"):
        name = name[2:]
    return "" if name in (".", "") else name.rstrip("/")


class _Sink:
    """Counts what tarfile writes (its plain "w" mode needs ``tell``); ``out`` None discards."""

    def __init__(self, out: BinaryIO | None) -> None:
        self.out, self.offset = out, 0

    def write(self, data: bytes) -> int:
        if self.out is not None:
            self.out.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset


def _copy_info(member: tarfile.TarInfo, rel: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mode, info.uid, info.gid = member.mode & 0o7777, member.uid, member.gid
    info.uname, info.gname, info.mtime = member.uname, member.gname, int(member.mtime)  # as on the host
    info.type = tarfile.REGTYPE if member.type in _FILE else member.type
    if member.issym() or member.islnk():
        info.linkname = relative(member.linkname) if member.islnk() else member.linkname
    if info.type == tarfile.REGTYPE:
        info.size = member.size
    return info


def normalize(source: Any, out: BinaryIO | None, patterns: tuple[str, ...], tree: Tree) -> Tree:
    """Read a tar stream of a directory, write it as the files datastore's PAX archive, return its tree.

    Excluded paths (and everything under an excluded directory) are left out; sockets, fifos and
    devices are skipped as on the host. A hard link is kept as a link to its earlier member and
    counted as a file in the tree hash, as the host's walk sees it. ``tree`` is filled as it goes.
    """
    files: dict[str, tuple[int, int, int, str]] = {}  # rel -> mode, size, mtime, digest
    pruned: list[str] = []
    sink = cast(BinaryIO, _Sink(out))
    try:
        with (
            tarfile.open(fileobj=source, mode="r|", bufsize=CHUNK) as src,
            tarfile.TarFile(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as dst,
        ):
            for member in src:
                rel = relative(member.name)
                if not rel or member.type not in _KEPT:
                    continue
                if any(rel.startswith(p + "/") for p in pruned) or (patterns and excluded(rel, patterns)):
                    if member.isdir():
                        pruned.append(rel)
                    continue
                info = _copy_info(member, rel)
                if info.type == tarfile.REGTYPE:
                    data = src.extractfile(member)
                    assert data is not None
                    hashing = HashingReader(data, tree.digest)
                    dst.addfile(info, cast(BinaryIO, hashing))
                    if hashing.count != info.size:
                        raise BackupError(
                            f"the container's tar sent {hashing.count} of {info.size} bytes of {rel}"
                        )
                    entry = (info.mode, info.size, int(info.mtime), hashing.sha.hexdigest())
                    files[rel] = entry
                    tree.lines.append(tree_line("f", rel, *entry))
                    tree.bytes += info.size
                elif info.type == tarfile.LNKTYPE:
                    if info.linkname not in files:
                        raise BackupError(f"the container's tar sent a hard link {rel} to an unknown file")
                    dst.addfile(info)
                    files[rel] = files[info.linkname]
                    tree.lines.append(tree_line("f", rel, *files[rel]))
                    tree.bytes += files[rel][1]
                else:
                    dst.addfile(info)
                    kind = "d" if info.type == tarfile.DIRTYPE else "l"
                    tree.lines.append(tree_line(kind, rel, info.mode, digest=info.linkname))
    except tarfile.TarError as exc:
        raise BackupError(f"the tar stream from the container is damaged: {exc}") from exc
    return tree


class StreamGuard:
    """Checks each member of a restore before it reaches a tar that cannot check the target for us.

    The target was emptied first (excluded paths stay), so the only links in it are the archive's:
    a member under a symlink the archive made, under an excluded path, with an absolute name or
    ``..``, a hard link to a file not in the archive, or a device is refused (``HostileMember``).
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self.links: set[str] = set()
        self.seen: set[str] = set()

    def __call__(self, member: tarfile.TarInfo) -> str:
        """The member's relative name, or HostileMember."""
        raw = member.name
        rel = relative(raw)
        parts = PurePosixPath(rel).parts
        if raw.startswith("/") or ".." in parts:
            raise HostileMember(f"refusing tar member {raw!r}: it points outside the restore target")
        if member.ischr() or member.isblk():
            raise HostileMember(f"refusing tar member {raw!r}: device files are not restored")
        ancestors = ["/".join(parts[:i]) for i in range(1, len(parts))]
        if any(a in self.links for a in ancestors):
            raise HostileMember(f"refusing tar member {raw!r}: its directory is a link")
        if rel in self.links:
            raise HostileMember(f"refusing tar member {raw!r}: it would be written through a symlink")
        if self.patterns and any(excluded(p, self.patterns) for p in [*ancestors, rel] if p):
            raise HostileMember(
                f"refusing tar member {raw!r}: it is in an excluded path, which the restore keeps"
            )
        if member.islnk() and relative(member.linkname) not in self.seen:
            raise HostileMember(f"refusing tar member {raw!r}: a hard link to {member.linkname!r}")
        if member.issym():
            self.links.add(rel)
        self.seen.add(rel)
        return rel


def reencode(stream: BinaryIO, out: BinaryIO, patterns: tuple[str, ...]) -> None:
    """Check every member of an artifact's tar (``StreamGuard``) and write it in GNU format to ``out``."""
    guard = StreamGuard(patterns)
    sink = cast(BinaryIO, _Sink(out))
    try:
        with (
            tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK) as src,
            tarfile.TarFile(fileobj=sink, mode="w", format=tarfile.GNU_FORMAT, copybufsize=CHUNK) as dst,
        ):
            for member in src:
                rel = guard(member)
                if not rel or member.type not in _KEPT:
                    continue
                info = _copy_info(member, rel)
                dst.addfile(info, src.extractfile(member) if info.type == tarfile.REGTYPE else None)
    except tarfile.TarError as exc:
        raise BackupError(f"the archive is damaged: {exc}") from exc


def deletions(names: list[str], patterns: tuple[str, ...]) -> list[str]:
    """Of a directory's entries (relative), the top-most to remove so that only excluded paths stay.

    Excluded entries and their parents stay; every other entry whose parent stays is removed
    (with what is under it), as the host's ``clear`` leaves the target.
    """
    keep: set[str] = set()
    excluded_dirs: list[str] = []
    for rel in sorted(names):
        if any(rel.startswith(d + "/") for d in excluded_dirs):
            continue
        if patterns and excluded(rel, patterns):
            excluded_dirs.append(rel)
            parts = rel.split("/")
            keep.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    out: list[str] = []
    for rel in sorted(names):
        if rel in keep or any(rel.startswith(d + "/") for d in excluded_dirs):
            continue
        parent = rel.rpartition("/")[0]
        if not parent or parent in keep:
            out.append(rel)
    return out
