"""The tree hash of a files backup, read from the tar stream as it passes (no second read of the files)."""

from __future__ import annotations

import hashlib
from typing import Any

from seawall.backup.errors import BackupError

BLOCK = 512
_ZERO = bytes(BLOCK)


def tree_line(kind: str, rel: str, mode: int = 0, size: int = 0, mtime: int = 0, digest: str = "") -> str:
    """One tree hash entry: ``f path mode size mtime sha256``, ``d path mode``, ``l path -> target``."""
    if kind == "l":
        return f"l {rel} -> {digest}"
    if kind == "d":
        return f"d {rel} {mode:o}"
    return f"f {rel} {mode:o} {size} {mtime} {digest}"


class Tree:
    """Accumulates the tree hash from entry lines (sorted at the end, so walk order does not matter)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bytes = 0

    def result(self) -> dict[str, Any]:
        """Entry count, content bytes and the sha256 of the sorted entry lines."""
        sha = hashlib.sha256("\n".join(sorted(self.lines)).encode()).hexdigest()
        return {"entries": len(self.lines), "bytes": self.bytes, "tree_sha256": sha}


def _number(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256 for values octal cannot hold
        return int.from_bytes(field[1:], "big")
    return int(field.partition(b"\0")[0] or b"0", 8)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _pax_records(data: bytes) -> dict[str, str]:
    """``"%d %s=%s\\n"`` records of a PAX extended header."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0:
            break
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        out[_text(key)] = _text(value)
        pos += length
    return out


class TreeTap:
    """A reader that passes a POSIX (PAX) tar stream through and hashes it into a ``Tree``.

    Each regular file's sha256 is taken of exactly the bytes in the archive, so the recorded
    fingerprint describes the backup itself, with one read of every file (by tar).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.tree = Tree()
        self.ended = False
        self._buf = bytearray()
        self._want = BLOCK  # bytes to gather into _buf (a header, or a PAX header's data)
        self._pax_size = -1  # >= 0 while gathering a PAX header's data
        self._pax: dict[str, str] = {}
        self._left = 0  # member data (plus padding) still to pass
        self._hash_left = 0  # of which file content to hash
        self._sha: Any = None
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

    def _feed(self, data: bytes) -> None:
        view, pos, n = memoryview(data), 0, len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                hashed = min(take, self._hash_left)
                if hashed:
                    self._sha.update(view[pos : pos + hashed])
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
        if block == _ZERO:
            self.ended = True
            return
        kind, size = block[156:157], _number(block[124:136])
        if kind in (b"x", b"g"):
            self._pax_size = size
            self._want = (size + BLOCK - 1) // BLOCK * BLOCK
            if kind == b"g":  # global: not about one member; parsed and dropped
                self._pax_size = 0
            if self._want == 0:
                self._pax_size, self._want = -1, BLOCK
            return
        pax, self._pax = self._pax, {}
        name = pax.get("path")
        if name is None:
            raw, prefix = block[:100].split(b"\0", 1)[0], block[345:500].split(b"\0", 1)[0]
            name = _text(prefix + b"/" + raw if prefix else raw)
        rel = name.rstrip("/")
        if "size" in pax:
            size = int(pax["size"])
        mode = _number(block[100:108]) & 0o7777
        mtime = int(pax["mtime"].split(".", 1)[0]) if "mtime" in pax else _number(block[136:148])
        if kind in (b"0", b"\0", b"7"):
            self._member = (rel, mode, size, mtime)
            self._sha = hashlib.sha256()
            self._hash_left = size
            self._left = (size + BLOCK - 1) // BLOCK * BLOCK
            if not self._left:
                self._member_done()
        elif kind == b"5":
            self.tree.lines.append(tree_line("d", rel, mode))
        elif kind == b"2":
            link = pax.get("linkpath") or _text(block[157:257].split(b"\0", 1)[0])
            self.tree.lines.append(tree_line("l", rel, digest=link))
        else:  # hard links, fifos (a file replaced while tar ran): not data, their bytes skipped
            self._left = (size + BLOCK - 1) // BLOCK * BLOCK

    def _member_done(self) -> None:
        if self._member is not None:
            rel, mode, size, mtime = self._member
            self.tree.lines.append(tree_line("f", rel, mode, size, mtime, self._sha.hexdigest()))
            self.tree.bytes += size
        self._member, self._sha, self._hash_left = None, None, 0
