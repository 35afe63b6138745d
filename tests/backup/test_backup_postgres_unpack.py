"""A parallel restore starts pg_restore while the dump is still being unpacked (real server, real tools)."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from _helpers import PG_SERVER, new_pg_database, pg_databases
from seawall.backup.errors import BackupError
from seawall.backup.sources.base import Target
from seawall.backup.sources.pg_fingerprint import fingerprint_conn
from seawall.backup.sources.pg_unpack import Unpacking
from seawall.backup.sources.postgres import PostgresDatastore

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE big (id int PRIMARY KEY, body text);
INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 50000) g;
CREATE TABLE middle (id int, note text);
INSERT INTO middle SELECT g, 'note ' || g FROM generate_series(1, 20000) g;
CREATE TABLE small (id int);
INSERT INTO small SELECT generate_series(1, 10);
CREATE TABLE empty (id int);
"""


@pytest.fixture
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes, dict[str, object]]]:
    """A database of four tables and its parallel dump (the tar, before zstd) with its fingerprint;
    yields the URL of a database to restore into (made by the restore), the tar and the fingerprint."""
    with pg_databases() as names:
        url = new_pg_database(names, SCHEMA)
        with PostgresDatastore().dump(
            Target(kind="postgres", url=url, extra={"jobs": 2}), tmp_path_factory.mktemp("dump")
        ) as dump:
            data = dump.stream.read()
            recorded = dump.finish().fingerprint
        names.append(f"seawall_test_{secrets.token_hex(5)}")
        yield f"{PG_SERVER}/{names[-1]}", data, recorded


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return tar.getmembers()


def restored(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        return fingerprint_conn(conn)


def test_the_tar_carries_the_list_then_the_toc_then_the_data_largest_first(
    source: tuple[str, bytes, dict[str, object]],
) -> None:
    _, data, _ = source
    found = members(data)
    names = [m.name for m in found]
    assert names[:2] == ["seawall-dump.json", "toc.dat"]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        meta = json.loads(tar.extractfile("seawall-dump.json").read())  # type: ignore[union-attr]
    assert meta["jobs"] == 2
    assert names[2:] == meta["files"]
    sizes = [m.size for m in found[2:]]
    assert sizes == sorted(sizes, reverse=True)
    assert all(not m.pax_headers for m in found)  # no mtime headers: the dump's own times are not data


def test_a_restore_proves_the_data_and_leaves_no_part_file(
    source: tuple[str, bytes, dict[str, object]], tmp_path: Path
) -> None:
    url, data, recorded = source
    ds = PostgresDatastore()
    target = Target(kind="postgres", url=url, extra={"jobs": 2})
    notes = ds.restore(io.BytesIO(data), target, tmp_path)
    assert ds.fingerprint(target, recorded) == recorded
    assert not any("ahead" in note for note in notes)
    assert list(tmp_path.iterdir()) == []  # the unpacked directory is removed


def test_pg_restore_that_gets_ahead_of_the_unpacking_is_run_again(
    source: tuple[str, bytes, dict[str, object]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_restore only sees whole files: one missing makes it fail, and the restore runs again."""
    url, data, recorded = source
    real = Unpacking.take

    def late(self: Unpacking, count: int | None = None) -> None:
        if count is not None:
            return  # pg_restore starts with no data file out
        time.sleep(1.0)  # and pg_restore gets there first
        real(self, count)

    monkeypatch.setattr(Unpacking, "take", late)
    ds = PostgresDatastore()
    target = Target(kind="postgres", url=url, extra={"jobs": 2})
    notes = ds.restore(io.BytesIO(data), target, tmp_path)
    assert any("got ahead of the unpacking" in note for note in notes)
    assert ds.fingerprint(target, recorded) == recorded == restored(url)


def test_a_data_file_missing_from_the_artifact_fails_the_restore_and_stops_pg_restore(
    source: tuple[str, bytes, dict[str, object]], tmp_path: Path
) -> None:
    url, data, _ = source
    cut = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as src, tarfile.open(fileobj=cut, mode="w") as dst:
        kept = src.getmembers()
        for member in kept[:-1]:  # the last (smallest) data file is lost
            dst.addfile(member, src.extractfile(member))
    with pytest.raises(BackupError, match="missing from it"):
        PostgresDatastore().restore(io.BytesIO(cut.getvalue()), Target(kind="postgres", url=url), tmp_path)
    gone = subprocess.run(["pgrep", "-f", f"pg_restore.*{tmp_path}"], capture_output=True, check=False)
    assert gone.stdout == b""
    assert list(tmp_path.iterdir()) == []


def test_an_artifact_of_the_older_layout_still_restores(
    source: tuple[str, bytes, dict[str, object]], tmp_path: Path
) -> None:
    """Before the file list: ``./``-prefixed names in name order, toc.dat last, unpacked whole first."""
    url, data, recorded = source
    unpacked = tmp_path / "dump"
    unpacked.mkdir()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        tar.extractall(unpacked, filter="data")
    meta = json.loads((unpacked / "seawall-dump.json").read_text())
    (unpacked / "seawall-dump.json").write_text(json.dumps({"format": meta["format"], "jobs": 2}))
    old = subprocess.run(
        ["tar", "--create", "--file=-", "--format=posix", "--sort=name", f"--directory={unpacked}", "."],
        capture_output=True,
        check=True,
    ).stdout
    assert members(old)[-1].name == "./toc.dat"
    staging = tmp_path / "staging"
    staging.mkdir()
    ds = PostgresDatastore()
    target = Target(kind="postgres", url=url)
    ds.restore(io.BytesIO(old), target, staging)
    assert ds.fingerprint(target, recorded) == recorded
