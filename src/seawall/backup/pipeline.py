"""The streaming pipeline: source -> zstd -> age -> file with sha256 on the fly, and its reverse."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Protocol, cast

import pyrage  # type: ignore[import-untyped]
import zstandard

from seawall.backup.errors import BackupError, KeyRequired

CHUNK = 1 << 20
_PIPE_SIZE = 1 << 20


class Readable(Protocol):
    """Anything with ``read(n)``: a process's stdout, a pipe, a file."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Codec:
    """How artifacts are transformed on their way into the repository."""

    compression: str = "zstd"  # zstd | none
    level: int = 3
    threads: int = 0  # 0: one per core
    recipients: tuple[Any, ...] = ()  # age recipients; empty: not encrypted

    @property
    def suffix(self) -> str:
        """File name suffix: .zst and/or .age."""
        return (".zst" if self.compression == "zstd" else "") + (".age" if self.recipients else "")


@dataclass(frozen=True, slots=True)
class Written:
    """What went into one artifact."""

    raw_bytes: int
    stored_bytes: int
    sha256: str


class _Source(io.RawIOBase):
    """Counts the raw bytes and keeps the source's own exception (age would flatten it to a string)."""

    def __init__(self, inner: Readable, on_bytes: Callable[[int], None]) -> None:
        self.inner, self.on_bytes, self.count = inner, on_bytes, 0
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        # zstd's reader calls read(n): hand the source's bytes over without readinto's extra copy
        if size is None or size < 0:
            return super().read()
        try:
            data = self.inner.read(min(size, CHUNK))
        except BaseException as exc:
            self.error = exc
            raise
        n = len(data)
        self.count += n
        if n:
            self.on_bytes(n)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


class _Recorder(io.RawIOBase):
    """Passes writes through and keeps the consumer's OS error (age would flatten it to a string)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.error: BaseException | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            self.out.write(data)
        except BaseException as exc:
            self.error = exc
            raise
        return len(data)


class _Sink(_Recorder):
    """Hashes and counts what reaches the file; keeps the OS error (disk full, read-only)."""

    def __init__(self, out: BinaryIO) -> None:
        super().__init__(out)
        self.sha, self.count = hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        n = super().write(data)
        self.sha.update(data)
        self.count += n
        return n


class _WriteBehind:
    """Hands each chunk to a thread that writes and hashes it, while the caller compresses the next.

    For a source this process works on as it passes (the files datastore parses every tar header
    and hashes every file): writing into the page cache is not free (190 MB of artifact cost up to
    0.4 CPU-s of system time when the pages were new to the machine), and in line it stalled the
    thread that also feeds the compressor's workers (files backup 1.49 -> 1.33 s). The zstd CLI
    writes asynchronously too. For a stream another process makes (pg_dump), the extra thread only
    cost: 3.49 -> 3.68 s, medians of ten randomised pairs; there the writes stay in line.
    """

    DEPTH = 4  # chunks in flight: enough to ride out a slow write, little memory

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self._queue: queue.Queue[bytes | None] = queue.Queue(self.DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seawall-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:  # after a failure, drain: the producer learns of it on its next write
                try:
                    self.sink.write(data)
                except BaseException as exc:
                    self._error = exc

    def write(self, data: Any) -> int:
        if self._error is not None:
            raise self._error
        self._queue.put(data if type(data) is bytes else bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to do: ``close`` waits for every write."""

    def close(self) -> None:
        """Wait for the writes queued so far; raise the first one's error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def encode(
    source: Readable, out: BinaryIO, codec: Codec, on_bytes: Callable[[int], None], behind: bool = False
) -> Written:
    """Stream ``source`` to its end through the codec into ``out``; nothing is held whole in memory.

    ``behind``: write and hash in a thread of their own (``_WriteBehind``)."""
    src, sink = _Source(source, on_bytes), _Sink(out)
    stream: Any = src
    if codec.compression == "zstd":
        cctx = zstandard.ZstdCompressor(
            level=codec.level, threads=-1 if codec.threads == 0 else codec.threads, write_checksum=True
        )
        stream = cctx.stream_reader(cast(IO[bytes], src), read_size=CHUNK)
    writer = _WriteBehind(sink) if behind else None
    target: _WriteBehind | _Sink = writer or sink
    try:
        try:
            if codec.recipients:
                pyrage.encrypt_io(stream, target, list(codec.recipients))
            else:
                while chunk := stream.read(CHUNK):
                    target.write(chunk)
        finally:
            if writer is not None:
                writer.close()
    except Exception as exc:
        cause = src.error or sink.error
        if cause is not None:
            raise cause from None
        raise BackupError(f"encoding failed: {exc}") from exc
    return Written(src.count, sink.count, sink.sha.hexdigest())


def checksum(stream: BinaryIO) -> tuple[int, str]:
    """Size and sha256 of a stored artifact."""
    sha, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()


def decode(stream: BinaryIO, compression: str, identities: list[Any], sink: BinaryIO) -> None:
    """Reverse of ``encode``: decrypt, decompress and write the original bytes to ``sink``."""
    rec = _Recorder(sink)
    target: Any = rec
    dctx: Any = None
    if compression == "zstd":
        dctx = zstandard.ZstdDecompressor().stream_writer(
            cast(IO[bytes], rec), write_size=CHUNK, closefd=False
        )
        target = dctx
    try:
        if identities:
            pyrage.decrypt_io(stream, target, identities)
        else:
            while chunk := stream.read(CHUNK):
                target.write(chunk)
        if dctx is not None:
            dctx.flush()
    except Exception as exc:
        if rec.error is not None:
            raise rec.error from None
        _translate(exc)
        raise


def _translate(exc: Exception) -> None:
    if isinstance(exc, pyrage.DecryptError):
        if "no matching keys" in str(exc).lower():
            raise KeyRequired(
                "the key given does not open this backup (it was encrypted to other keys)"
            ) from exc
        raise BackupError(f"cannot decrypt: {exc}") from exc
    if isinstance(exc, zstandard.ZstdError):
        raise BackupError(f"cannot decompress: {exc}") from exc
    if isinstance(exc, OSError) and "decrypt" in str(exc):
        raise BackupError(f"cannot decrypt: {exc}") from exc


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)  # fewer context switches per MiB
    return r, w


def _in_thread(
    write: Callable[[BinaryIO], None], name: str
) -> tuple[BinaryIO, threading.Thread, list[BaseException]]:
    """Start ``write`` into a pipe in daemon thread ``name``: the pipe's reader, the thread, its errors."""
    r, w = _pipe()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with os.fdopen(w, "wb") as out:
                write(out)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return os.fdopen(r, "rb"), thread, errors


@contextmanager
def produced(write: Callable[[BinaryIO], None]) -> Iterator[BinaryIO]:
    """A reader of what ``write`` writes in a thread; the thread's error is raised on exit."""
    reader, thread, errors = _in_thread(write, "seawall-producer")
    try:
        yield reader
    finally:
        reader.close()
        thread.join()
    _raise_unless_broken_pipe(errors)


def _raise_unless_broken_pipe(errors: list[BaseException]) -> None:
    # a broken pipe only means the consumer stopped first; the consumer reports why
    if errors and not isinstance(errors[0], BrokenPipeError):
        raise errors[0]


@contextmanager
def decoded(stream: BinaryIO, compression: str, identities: list[Any]) -> Iterator[BinaryIO]:
    """A pipe reader of the decoded artifact: fits consumers that want a file (pg_restore's stdin)."""
    reader, thread, errors = _in_thread(
        lambda out: decode(stream, compression, identities, out), "seawall-decode"
    )
    try:
        yield reader
    except BaseException:
        reader.close()
        thread.join()
        # a failed decode explains a failed consumer better than the consumer does
        _raise_unless_broken_pipe(errors)
        raise
    reader.close()
    thread.join()
    _raise_unless_broken_pipe(errors)
