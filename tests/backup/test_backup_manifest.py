"""The manifest model: JSON round trip, ids, its own checksum, and corrupt documents named clearly."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from seawall.backup.errors import ManifestCorrupt
from seawall.backup.manifest import (
    CHECKSUM,
    Artifact,
    Failure,
    Manifest,
    canonical_json,
    is_backup_id,
    manifest_checksum,
    new_backup_id,
)


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
        position={"lsn": "0/1A2B3C4D", "offset": 2**64 + 1},
        fingerprint={"tables": {"t": {"rows": 1, "hash": "00"}, "caf\u00e9 \U0001f9ad": {"rows": 7}}},
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
    """Even with its checksum taken again after the edit (the checksum is no signature)."""
    doc = json.loads(manifest().to_json())
    mutate(doc)  # type: ignore[operator]
    doc[CHECKSUM] = manifest_checksum(doc)
    with pytest.raises(ManifestCorrupt, match=r"manifest where\.json is corrupt") as caught:
        Manifest.from_json(json.dumps(doc).encode(), "where.json")
    assert "changed after" not in str(caught.value)


def test_garbage_bytes_are_a_clear_error() -> None:
    with pytest.raises(ManifestCorrupt):
        Manifest.from_json(b"\x00\xff{", "m")


def test_the_canonical_form_and_its_digest_are_fixed() -> None:
    """Written manifests are checked against these bytes forever: any change here breaks every one."""
    doc = {"b": [1, 2.5, "\u00e9", None], "a": {"z": True, "y": -0.0}, CHECKSUM: "left out"}
    body = b'{"a":{"y":-0.0,"z":true},"b":[1,2.5,"\\u00e9",null]}'
    assert canonical_json({k: v for k, v in doc.items() if k != CHECKSUM}) == body
    assert manifest_checksum(doc) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert manifest_checksum(doc) == "sha256:5ab6bceacc25f688825fc744fa7522267e3729af8f32408a27b7ac9da8e10573"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=6))
@example({"big": 2**64 + 1, "small": -(10**40), "tiny": 5e-324, "huge": 1.7976931348623157e308})
@example({"third": 1 / 3, "ten": 1e22, "zero": -0.0, "nan": float("nan"), "inf": float("-inf")})
@example({"s\u00e9al": '\u65e5\u672c \U0001f9ad \u2028 \x00 \udcff "\\'})  # \udcff: a non-UTF-8 argv byte
def test_the_checksum_survives_any_layout_of_the_same_document(doc: dict[str, Any]) -> None:
    """Floats, ints of any size and any text read back to the same canonical bytes, however written."""
    digest = manifest_checksum(doc)
    as_written = json.dumps(doc, indent=2, sort_keys=True)
    for text in (as_written, json.dumps(doc, ensure_ascii=False), json.dumps(dict(reversed(doc.items())))):
        assert manifest_checksum(json.loads(text)) == digest


def test_a_manifest_is_written_with_its_checksum_and_read_back_checked() -> None:
    m = manifest()
    doc = json.loads(m.to_json())
    assert doc[CHECKSUM] == manifest_checksum(doc)
    assert doc[CHECKSUM].startswith("sha256:")
    again = Manifest.from_json(m.to_json(), "x")
    assert again.checksum == doc[CHECKSUM]
    assert again == m


def test_the_written_document_is_the_one_before_checksums_plus_one_field() -> None:
    """What older Seawall needs to read it: it ignores top-level fields it does not know."""
    m = manifest()
    doc = json.loads(m.to_json())
    del doc[CHECKSUM]
    assert doc == json.loads(json.dumps(m.to_dict()))


def test_every_flipped_bit_of_a_manifest_is_caught() -> None:
    """Each of the file's bits flipped in turn: none yields another manifest that reads as sound."""
    data = manifest().to_json()
    original = json.loads(data)
    for at in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[at] ^= 1 << bit
            try:
                Manifest.from_json(bytes(damaged), "m")
            except ManifestCorrupt:
                continue
            assert json.loads(bytes(damaged)) == original, f"byte {at} bit {bit} went unnoticed"


def edited(change: Any, m: Manifest | None = None) -> bytes:
    """A manifest as committed, then changed by hand (its checksum left as it was)."""
    doc = json.loads((m or manifest()).to_json())
    change(doc)
    return json.dumps(doc, indent=2, sort_keys=True).encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["artifacts"][0]["fingerprint"]["tables"]["t"].update(rows=2),
        lambda d: d["artifacts"][0].update(stored_bytes=41),
        lambda d: d["artifacts"][0]["position"].update(lsn="0/1A2B3C4E"),
        lambda d: d.update(tags=["u"]),
        lambda d: d.update(extra="a field a newer Seawall might add, without its checksum taken again"),
    ],
)
def test_a_change_after_the_commit_is_a_corrupt_manifest(change: Any) -> None:
    with pytest.raises(
        ManifestCorrupt, match=r"manifest where\.json is corrupt: it was changed after it was committed"
    ):
        Manifest.from_json(edited(change), "where.json")


def test_a_manifest_from_before_checksums_reads_as_it_did() -> None:
    """Written exactly as older Seawall wrote it; hand edits of such a manifest are not caught, as before."""
    m = manifest()
    old = edited(lambda d: d.pop(CHECKSUM), m)
    assert (again := Manifest.from_json(old, "x")) == m
    assert again.checksum is None
    retagged = Manifest.from_json(edited(lambda d: (d.pop(CHECKSUM), d.update(tags=["u"]))), "x")
    assert retagged.tags == ("u",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # one flipped bit in the field's name: not an old manifest, which never had such a field
        (lambda d: d.update(checksul=d.pop(CHECKSUM)), r"no checksum but fields .*'checksul'"),
        (
            lambda d: d.update(checksum="sha257" + d[CHECKSUM][6:]),
            r"names an algorithm this Seawall does not know",
        ),
        (lambda d: d.update(checksum=d[CHECKSUM].upper()), r"names an algorithm"),
        (
            lambda d: d.update(checksum=d[CHECKSUM][:-1] + ("1" if d[CHECKSUM][-1] == "0" else "0")),
            r"changed after",
        ),
        (lambda d: d.update(checksum=None), r"checksum is NoneType"),
    ],
)
def test_a_damaged_checksum_is_a_corrupt_manifest(change: Any, message: str) -> None:
    with pytest.raises(ManifestCorrupt, match=message):
        Manifest.from_json(edited(change), "m")
