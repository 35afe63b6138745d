"""The streaming pipeline: round trips through zstd and age, keys, and failing sources."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest

from seawall.backup.crypto import Encryption, identities_for, keygen, load_identity, seal
from seawall.backup.errors import BackupError, KeyRequired
from seawall.backup.pipeline import Codec, checksum, decode, encode
from seawall.backup.procs import Proc

DATA = os.urandom(300_000) + b"compressible " * 100_000


def round_trip(
    codec: Codec, identities: list[object], data: bytes = DATA, behind: bool = False
) -> tuple[bytes, bytes]:
    stored = io.BytesIO()
    seen: list[int] = []
    written = encode(io.BytesIO(data), stored, codec, seen.append, behind)
    assert written.raw_bytes == len(data) == sum(seen)
    assert written.stored_bytes == len(stored.getvalue())
    assert written.sha256 == hashlib.sha256(stored.getvalue()).hexdigest()
    assert checksum(io.BytesIO(stored.getvalue())) == (written.stored_bytes, written.sha256)
    out = io.BytesIO()
    decode(io.BytesIO(stored.getvalue()), codec.compression, identities, out)
    return stored.getvalue(), out.getvalue()


@pytest.mark.parametrize("behind", [False, True])
@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_plain_round_trip(compression: str, behind: bool) -> None:
    stored, out = round_trip(Codec(compression, 3, 2), [], behind=behind)
    assert out == DATA
    assert (len(stored) < len(DATA)) == (compression == "zstd")


def test_x25519_round_trip_and_a_wrong_key_is_refused(tmp_path: Path) -> None:
    keygen(tmp_path / "k")
    enc = Encryption.from_settings({"identity_file": str(tmp_path / "k")}, Path)
    assert enc is not None
    sealing = seal(enc)
    ident = load_identity(tmp_path / "k")
    stored, out = round_trip(Codec("zstd", 3, 1, sealing.recipients), [ident])
    assert out == DATA
    assert b"compressible" not in stored
    with pytest.raises(KeyRequired, match="does not open this backup"):
        decode(io.BytesIO(stored), "zstd", [pyrage.x25519.Identity.generate()], io.BytesIO())


def test_a_passphrase_wraps_a_per_backup_key() -> None:
    sealing = seal(Encryption(passphrase="correct horse"))
    assert "wrapped_identity" in sealing.record
    good = identities_for(sealing.record, Encryption(passphrase="correct horse"), "b1")
    _, out = round_trip(Codec("zstd", 3, 1, sealing.recipients), good)
    assert out == DATA
    with pytest.raises(KeyRequired, match="passphrase does not open backup b1"):
        identities_for(sealing.record, Encryption(passphrase="wrong"), "b1")
    with pytest.raises(KeyRequired, match="no key is configured"):
        identities_for(sealing.record, None, "b1")


def test_each_key_source_is_tried_on_its_own(tmp_path: Path) -> None:
    """A missing identity file does not stop the passphrase, nor a mistyped passphrase the file."""
    public = keygen(tmp_path / "k")
    sealing = seal(Encryption((public,), tmp_path / "k", "correct horse"))
    moved = Encryption((public,), tmp_path / "gone", "correct horse")
    _, out = round_trip(Codec("zstd", 3, 1, sealing.recipients), identities_for(sealing.record, moved, "b1"))
    assert out == DATA
    typo = Encryption((public,), tmp_path / "k", "correct h0rse")
    _, out = round_trip(Codec("zstd", 3, 1, sealing.recipients), identities_for(sealing.record, typo, "b1"))
    assert out == DATA
    with pytest.raises(KeyRequired, match=r"file .*gone: No such file.*; the passphrase does not"):
        identities_for(sealing.record, Encryption((public,), tmp_path / "gone", "wrong"), "b1")


def test_keygen_writes_0600_and_never_overwrites(tmp_path: Path) -> None:
    public = keygen(tmp_path / "k")
    assert public.startswith("age1")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    with pytest.raises(Exception, match="already exists"):
        keygen(tmp_path / "k")


@pytest.mark.integration
def test_a_source_process_that_fails_after_writing_is_an_error() -> None:
    """The compressor "succeeds"; the exit status of the dump is what tells the truth."""
    script = "import sys; sys.stdout.buffer.write(b'x' * 100000); sys.stdout.flush(); sys.exit(3)"
    with Proc([sys.executable, "-c", script], stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        encode(proc.stdout, io.BytesIO(), Codec(), lambda n: None)
        with pytest.raises(BackupError, match="exited with status 3"):
            proc.finish()


@pytest.mark.integration
def test_a_stderr_filter_keeps_only_matching_lines_however_long_the_others() -> None:
    """A 3 MiB echoed statement (longer than a read chunk) is dropped; the short error lines stay."""
    script = (
        "import sys; e = sys.stderr.write; e('ERROR 1 first\\n' + 'DATA' * 786432 + '\\n');"
        " e('ERROR 2 at the end ' + 'y' * 2000); sys.exit(1)"
    )
    proc = Proc([sys.executable, "-c", script], stdin=subprocess.DEVNULL, keep=re.compile(rb"ERROR "))
    with proc, pytest.raises(BackupError) as failed:
        proc.finish()
    assert "DATA" not in str(failed.value)
    assert "ERROR 1 first\nERROR 2 at the end yyy" in str(failed.value)
    assert len(str(failed.value)) < 700  # the kept line is cut short too


def test_a_reader_error_surfaces_as_itself_through_age() -> None:
    class Broken:
        def read(self, size: int = -1) -> bytes:
            raise OSError(5, "Input/output error")

    recipient = pyrage.x25519.Identity.generate().to_public()
    with pytest.raises(OSError, match="Input/output error"):
        encode(Broken(), io.BytesIO(), Codec("zstd", 3, 1, (recipient,)), lambda n: None)


class _FullDisk(io.BytesIO):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def write(self, data: object) -> int:
        if self.tell() + len(data) > self.room:  # type: ignore[arg-type]
            raise OSError(28, "No space left on device")
        return super().write(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("behind", [True, False])
@pytest.mark.parametrize("recipients", [(), (pyrage.x25519.Identity.generate().to_public(),)])
def test_a_write_that_fails_mid_stream_surfaces_as_itself_and_leaves_no_writer(
    recipients: tuple[object, ...], behind: bool
) -> None:
    """Writes in line or behind the compressor, in a thread: the error reaches the caller as itself."""
    before = threading.active_count()
    data = os.urandom(8 << 20)  # incompressible: many chunks reach the disk before it fills
    with pytest.raises(OSError, match="No space left on device"):
        encode(io.BytesIO(data), _FullDisk(3 << 20), Codec("zstd", 1, 1, recipients), lambda n: None, behind)
    assert threading.active_count() == before


def test_a_source_that_fails_while_writes_are_behind_surfaces_as_itself() -> None:
    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 4 << 20:
                raise OSError(5, "Input/output error")
            return super().read(size)

    before = threading.active_count()
    with pytest.raises(OSError, match="Input/output error"):
        encode(Failing(os.urandom(8 << 20)), io.BytesIO(), Codec("zstd", 1, 1), lambda n: None, behind=True)
    assert threading.active_count() == before
