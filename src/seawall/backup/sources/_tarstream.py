"""The tree hash of a files backup, read from the tar stream as it passes (no second read of the files)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

import xxhash

from seawall.backup.errors import BackupError

BLOCK = 512
_ZERO = bytes(BLOCK)

# Each file's content digest. The tree hash over the sorted entry lines is sha256 either way; the
# per-file digest only has to tell a restored file from the backed-up one (tampering with the
# artifact is caught by its sha256), so it is XXH3-128, as rsync's --checksum uses: on 2 cores
# sha256 of every byte cost about 0.2 CPU-s per 400 MB of a backup. Fingerprints without a
# ``method`` (recorded before it existed) used sha256 and are still reproduced for their backups.
TREE_METHOD = "tree-xxh128"
_LEGACY = "tree-sha256"
_DIGESTS: dict[str, Callable[..., Any]] = {TREE_METHOD: xxhash.xxh3_128, _LEGACY: hashlib.sha256}
_ONE_SHOT: dict[str, Callable[[Any], str]] = {
    TREE_METHOD: xxhash.xxh3_128_hexdigest,
    _LEGACY: lambda data: hashlib.sha256(data).hexdigest(),
}
_PAX, _PAX_FIELDS = 0x78, (b"path", b"linkpath", b"size")
# a ustar header's name, mode, size, mtime and type (uid, gid and checksum skipped)
_USTAR = struct.Struct("100s8s16x12s12s8xc")


def tree_line(kind: str, rel: str, mode: int = 0, size: int = 0, mtime: int = 0, digest: str = "") -> str:
    """One tree hash entry: ``f path mode size mtime digest``, ``d path mode``, ``l path -> target``."""
    if kind == "l":
        return f"l {rel} -> {digest}"
    if kind == "d":
        return f"d {rel} {mode:o}"
    return f"f {rel} {mode:o} {size} {mtime} {digest}"


class Tree:
    """Accumulates the tree hash from entry lines (sorted at the end, so walk order does not matter)."""

    def __init__(self, method: str = TREE_METHOD) -> None:
        if method not in _DIGESTS:
            raise BackupError(f"unknown files fingerprint method {method!r}: made by a newer Seawall?")
        self.method = method
        self.digest = _DIGESTS[method]  # a new hasher of one file's content: update(), hexdigest()
        self.hexdigest = _ONE_SHOT[method]  # of content that is all at hand
        self.lines: list[str] = []
        self.bytes = 0

    @classmethod
    def like(cls, recorded: dict[str, Any] | None) -> Tree:
        """An empty tree hashed the way ``recorded`` was (the current method when None)."""
        return cls() if recorded is None else cls(str(recorded.get("method", _LEGACY)))

    def result(self) -> dict[str, Any]:
        """Entry count, content bytes and the sha256 of the sorted entry lines (and the method)."""
        sha = hashlib.sha256("\n".join(sorted(self.lines)).encode()).hexdigest()
        out = {"entries": len(self.lines), "bytes": self.bytes, "tree_sha256": sha}
        return out if self.method == _LEGACY else {"method": self.method, **out}


class HashingReader:
    """Passes ``read`` through, hashing (``digest``, a hasher factory) and counting what passed."""

    def __init__(self, inner: Any, digest: Callable[[], Any]) -> None:
        self.inner, self.sha, self.count = inner, digest(), 0

    def read(self, size: int = -1) -> bytes:
        """Read from ``inner``; the bytes are hashed and counted."""
        data: bytes = self.inner.read(size)
        self.sha.update(data)
        self.count += len(data)
        return data


def _number(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256 for values octal cannot hold
        return int.from_bytes(field[1:], "big")
    return int(field.partition(b"\0")[0] or b"0", 8)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """``"%d %s=%s\\n"`` records of a PAX extended header (a value may hold newlines: lengths decide)."""
    out: dict[bytes, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        if length <= 0:
            break
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        out[key] = value
        pos += length
    return out


class TreeTap:
    """A reader that passes a POSIX (PAX) tar stream through and hashes it into a ``Tree``.

    Each regular file's digest is taken of exactly the bytes in the archive, so the recorded
    fingerprint describes the backup itself, with one read of every file (by tar). This runs on
    every byte of a files backup, so the header parsing is kept to what the tree hash needs.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tree = Tree()
        self.ended = False
        self._buf = bytearray()
        self._want = BLOCK  # bytes to gather into _buf (a header, or a PAX header's data)
        self._pax_size = -1  # >= 0 while gathering a PAX header's data
        self._pax: dict[bytes, bytes] = {}
        self._left = 0  # member data (plus padding) still to pass
        self._hash_left = 0  # of which file content to hash
        self._hasher: Any = None
        self._member: tuple[str, int, int, int] | None = None

    def read(self, size: int = -1, /) -> bytes:
        """Read from the tar stream, hashing what passes."""
        data: bytes = self.inner.read(size)
        if data and not self.ended:
            self._feed(data)
        return data

    def check(self) -> None:
        """BackupError unless the stream ended with tar's end-of-archive marker."""
        if not self.ended:
            raise BackupError("the tar stream ended early (no end-of-archive marker)")

    def _whole_members(self, data: bytes, view: memoryview, pos: int) -> int:
        """Take the regular files that lie whole in ``data`` from ``pos`` (GNU tar's usual member:
        the header, maybe after a short PAX header, then the content); return where it stopped.

        Nearly all files of bench/backup_files.py's tree go this way, each in a few steps; anything
        else (a PAX header with a name, a link target or a size, a member cut by the chunk's end, a
        directory or link) is left to the general path. Both record the same lines.
        """
        lines, hexdigest, n, unpack = self.tree.lines, self.tree.hexdigest, len(data), _USTAR.unpack_from
        taken = 0
        while n - pos >= 2 * BLOCK:
            header, records = pos, b""
            if data[pos + 156] == _PAX:  # older archives and odd files: an mtime, uid or name
                size = _number(data[pos + 124 : pos + 136])
                if size > BLOCK or n - pos < 3 * BLOCK:
                    break
                records = data[pos + BLOCK : pos + BLOCK + size]
                if any(field in records for field in _PAX_FIELDS):
                    break  # a long name, a link target, a huge file: the general path reads those
                header = pos + 2 * BLOCK
            name, mode_field, size_field, mtime_field, kind = unpack(data, header)
            if kind != b"0":
                break
            try:  # GNU tar's numbers: octal digits and a NUL; anything else (base-256) goes the long way
                size = int(size_field[:-1], 8)
                mode = int(mode_field[:-1], 8) & 0o7777
                mtime = int(mtime_field[:-1], 8)
            except ValueError:
                break
            start = header + BLOCK
            end = start + (size + BLOCK - 1) // BLOCK * BLOCK
            if end > n:
                break
            if records:
                at = records.find(b" mtime=")
                if at >= 0:
                    mtime = int(records[at + 7 : records.index(b"\n", at)].partition(b".")[0])
            name = name.partition(b"\0")[0]
            if data[header + 345] and data[header + 257 : header + 263] == b"ustar\0":
                name = data[header + 345 : header + 500].partition(b"\0")[0] + b"/" + name
            # tree_line("f", ...), inlined: this line runs once per file of the backup
            lines.append(
                f"f {_text(name).rstrip('/')} {mode:o} {size} {mtime} {hexdigest(view[start : start + size])}"
            )
            taken += size
            pos = end
        self.tree.bytes += taken
        return pos

    def _feed(self, data: bytes) -> None:
        view, pos, n = memoryview(data), 0, len(data)
        while pos < n:
            if not (self._left or self._buf or self._pax) and self._want == BLOCK and self._pax_size < 0:
                pos = self._whole_members(data, view, pos)
                if pos >= n:
                    return
            if self._left:
                take = min(self._left, n - pos)
                hashed = min(take, self._hash_left)
                if hashed:
                    self._hasher.update(view[pos : pos + hashed])
                    self._hash_left -= hashed
                pos += take
                self._left -= take
                if not self._left:
                    self._member_done()
                continue
            want = self._want
            if not self._buf and n - pos >= want:  # the usual case: the whole header is here
                block = data[pos : pos + want]
                pos += want
            else:
                take = min(want - len(self._buf), n - pos)
                self._buf += view[pos : pos + take]
                pos += take
                if len(self._buf) < want:
                    return
                block = bytes(self._buf)
                self._buf.clear()
            self._gathered(block)
            if self.ended:
                return

    def _gathered(self, block: bytes) -> None:
        if self._pax_size >= 0:  # the data of a PAX header: applies to the next member
            self._pax.update(_pax_records(block[: self._pax_size]))
            self._pax_size, self._want = -1, BLOCK
            return
        kind = block[156]
        if kind == 0 and block == _ZERO:
            self.ended = True
            return
        size = _number(block[124:136])
        if kind in (0x78, 0x67):  # x, g
            self._want = (size + BLOCK - 1) // BLOCK * BLOCK
            self._pax_size = size if kind == 0x78 else 0  # global: not about one member, dropped
            if self._want == 0:
                self._pax_size, self._want = -1, BLOCK
            return
        pax, self._pax = self._pax, {}
        name = pax.get(b"path")
        if name is None:
            name = block[:100].partition(b"\0")[0]
            if block[345] and block[257:263] == b"ustar\0":  # POSIX: a prefix field (GNU: times there)
                name = block[345:500].partition(b"\0")[0] + b"/" + name
        rel = _text(name).rstrip("/")
        if b"size" in pax:
            size = int(pax[b"size"])
        mode = _number(block[100:108]) & 0o7777
        mtime = int(pax[b"mtime"].partition(b".")[0]) if b"mtime" in pax else _number(block[136:148])
        if kind in (0x30, 0, 0x37):  # regular files: "0", NUL (old tars), "7" (contiguous)
            self._member = (rel, mode, size, mtime)
            self._hasher = self.tree.digest()
            self._hash_left = size
            self._left = (size + BLOCK - 1) // BLOCK * BLOCK
            if not self._left:
                self._member_done()
        elif kind == 0x35:  # directory
            self.tree.lines.append(tree_line("d", rel, mode))
        elif kind == 0x32:  # symlink
            link = pax.get(b"linkpath") or block[157:257].partition(b"\0")[0]
            self.tree.lines.append(tree_line("l", rel, digest=_text(link)))
        else:  # hard links, fifos (a file replaced while tar ran): not data, their bytes skipped
            self._left = (size + BLOCK - 1) // BLOCK * BLOCK

    def _member_done(self) -> None:
        if self._member is not None:
            rel, mode, size, mtime = self._member
            self.tree.lines.append(tree_line("f", rel, mode, size, mtime, self._hasher.hexdigest()))
            self.tree.bytes += size
        self._member, self._hasher, self._hash_left = None, None, 0
