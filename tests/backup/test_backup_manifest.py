"""The manifest model: JSON round trip, ids, and corrupt documents named clearly."""

from __future__ import annotations

import json

import pytest

from seawall.backup.errors import ManifestCorrupt
from seawall.backup.manifest import Artifact, Failure, Manifest, is_backup_id, new_backup_id


def manifest() -> Manifest:
    art = Artifact(
        "db",
        "sqlite",
        "db.sqlite.zst",
        "sqlite",
        100,
        40,
        "ab" * 32,
        0.5,
        fingerprint={"tables": {"t": {"rows": 1, "hash": "00"}}},
    )
    return Manifest(
        new_backup_id(1_700_000_000),
        "shop",
        1_700_000_000.0,
        1_700_000_001.5,
        "h",
        "0.1.0",
        {"algorithm": "zstd", "level": 3},
        None,
        (art,),
        (Failure("cache", "redis", "down"),),
        ("t",),
    )


def test_round_trip_keeps_every_field() -> None:
    m = manifest()
    again = Manifest.from_json(m.to_json(), "x")
    assert again == m
    assert not again.complete
    assert again.to_dict()["stored_bytes"] == 40


def test_ids_sort_by_time_and_reject_path_tricks() -> None:
    assert new_backup_id(1.0) < new_backup_id(2_000_000_000.0)
    assert is_backup_id(new_backup_id(0.0))
    assert not is_backup_id("../20240101T000000.000Z-abcdef")
    assert new_backup_id(1.5).startswith("19700101T000001.500Z-")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=99),
        lambda d: d.pop("artifacts"),
        lambda d: d["artifacts"][0].update(file="../../etc/passwd"),
        lambda d: d["artifacts"][0].update(sha256="nothex"),
        lambda d: d.update(id="not-an-id"),
        lambda d: d.update(started=float("nan")),
        lambda d: d.update(started=1e20),  # past year 9999: no calendar bucket holds it
        lambda d: d.update(finished=float("inf")),
        # hand edits that are valid JSON but not what the engine reads (each crashed list or restore)
        lambda d: d["artifacts"][0].update(stored_bytes="40"),
        lambda d: d["artifacts"][0].update(raw_bytes="x"),
        lambda d: d["artifacts"][0].update(raw_bytes=True),
        lambda d: d["artifacts"][0].update(stored_bytes=-1),
        lambda d: d["artifacts"][0].update(component=5),
        lambda d: d["artifacts"][0].update(fingerprint="abc"),
        lambda d: d["artifacts"][0].update(position=[]),
        lambda d: d["artifacts"][0].update(duration=float("nan")),
        lambda d: d.update(encryption="age"),
        lambda d: d.update(compression={"algorithm": "lz4"}),
        lambda d: d.update(artifacts=[]),
        lambda d: d["artifacts"].append(dict(d["artifacts"][0])),
        lambda d: d.update(tags=[1]),
        lambda d: d.update(failed=[{"component": "c", "kind": "redis", "error": None}]),
        lambda d: d.update(stack=["shop"]),
    ],
)
def test_a_corrupt_manifest_is_a_clear_error(mutate: object) -> None:
    doc = json.loads(manifest().to_json())
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(ManifestCorrupt, match=r"manifest where\.json is corrupt"):
        Manifest.from_json(json.dumps(doc).encode(), "where.json")


def test_garbage_bytes_are_a_clear_error() -> None:
    with pytest.raises(ManifestCorrupt):
        Manifest.from_json(b"\x00\xff{", "m")
