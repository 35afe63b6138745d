"""The manifest model: what one backup holds, as stored in ``manifest.json`` (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from seawall.backup.errors import ManifestCorrupt

FORMAT = 1
_ID_RE = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$")

CHECKSUM = "checksum"
# the checksum names its algorithm ("sha256:<hex>"), so a later Seawall can move to another and
# still check the manifests written with this one
_DIGESTS: dict[str, Callable[[bytes], Any]] = {"sha256": hashlib.sha256}
_WRITE_WITH = "sha256"
# The top-level fields Seawall wrote before manifests had a checksum: such a manifest holds these
# only. Without the rule, one flipped byte in the name "checksum" would pass a manifest off as old.
# History, not the current model: it must not grow with new fields (they come with a checksum).
_BEFORE_CHECKSUM = frozenset(
    {
        "format", "id", "stack", "started", "finished", "started_at", "finished_at", "duration", "host",
        "seawall_version", "tags", "compression", "encryption", "complete", "raw_bytes", "stored_bytes",
        "artifacts", "failed",
    }
)  # fmt: skip


def new_backup_id(ts: float) -> str:
    """A sortable, unique id: UTC time of the start plus a random suffix."""
    when = datetime.fromtimestamp(ts, tz=UTC)
    return f"{when:%Y%m%dT%H%M%S}.{when.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    """Whether ``text`` has the shape of a backup id (also keeps path tricks out of the repository)."""
    return bool(_ID_RE.match(text))


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """One byte string per JSON value however it was laid out: sorted keys, no spaces, ASCII only.

    Floats are written as ``repr`` writes them (the shortest text that reads back as the same
    float), ints in full and non-ASCII characters as ``\\u`` escapes, so a document parsed back
    from its own JSON gives the same bytes again: the writer and every reader agree on them.
    """
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def manifest_checksum(doc: Mapping[str, Any], algorithm: str = _WRITE_WITH) -> str:
    """``<algorithm>:<hex digest>`` of the canonical JSON of ``doc`` without its own checksum field."""
    body = {key: value for key, value in doc.items() if key != CHECKSUM}
    return f"{algorithm}:{_DIGESTS[algorithm](canonical_json(body)).hexdigest()}"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One datastore's dump inside a backup."""

    component: str
    kind: str
    file: str
    format: str
    raw_bytes: int
    stored_bytes: int
    sha256: str
    duration: float
    tool_versions: dict[str, str] = field(default_factory=dict)
    server_version: str | None = None
    position: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Failure:
    """A datastore that failed: recorded so the manifest says what it does not hold."""

    component: str
    kind: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the manifest."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A committed backup: ids, times, settings and every artifact with its checksum."""

    id: str
    stack: str
    started: float
    finished: float
    host: str
    seawall_version: str
    compression: dict[str, Any]
    encryption: dict[str, Any] | None
    artifacts: tuple[Artifact, ...]
    failed: tuple[Failure, ...] = ()
    tags: tuple[str, ...] = ()
    # as read from a repository, where it matched the content; None for a manifest built in memory
    # (``to_json`` computes its own) or one written before manifests had a checksum
    checksum: str | None = field(default=None, compare=False)

    @property
    def complete(self) -> bool:
        """Every datastore asked for was backed up."""
        return not self.failed

    @property
    def stored_bytes(self) -> int:
        """Bytes in the repository."""
        return sum(a.stored_bytes for a in self.artifacts)

    @property
    def raw_bytes(self) -> int:
        """Bytes produced by the datastores before compression."""
        return sum(a.raw_bytes for a in self.artifacts)

    def artifact(self, component: str) -> Artifact | None:
        """The artifact of one component, if this backup holds it."""
        return next((a for a in self.artifacts if a.component == component), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``manifest.json``."""
        return {
            "format": FORMAT,
            "id": self.id,
            "stack": self.stack,
            "started": self.started,
            "finished": self.finished,
            "started_at": _iso(self.started),
            "finished_at": _iso(self.finished),
            "duration": round(self.finished - self.started, 3),
            "host": self.host,
            "seawall_version": self.seawall_version,
            "tags": list(self.tags),
            "compression": self.compression,
            "encryption": self.encryption,
            "complete": self.complete,
            "raw_bytes": self.raw_bytes,
            "stored_bytes": self.stored_bytes,
            "artifacts": [a.to_dict() for a in self.artifacts],
            "failed": [f.to_dict() for f in self.failed],
        }

    def to_json(self) -> bytes:
        """The exact bytes written to ``manifest.json``: ``to_dict()`` with its checksum added."""
        # taken over the document as a reader will parse it back: a dict key that is not a str
        # (a number) becomes one in JSON and then sorts differently
        doc = json.loads(json.dumps(self.to_dict()))
        doc[CHECKSUM] = manifest_checksum(doc)
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        """Parse and check a manifest; ManifestCorrupt names ``where`` if anything is off."""
        try:
            doc = json.loads(data)
            checksum = _checked(_typed(doc, dict, "the document"))
            if doc.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {doc.get('format')!r}")
            if not is_backup_id(doc["id"]):
                raise ValueError(f"invalid backup id {doc['id']!r}")
            artifacts = tuple(_artifact(a) for a in _typed(doc["artifacts"], list, "artifacts"))
            if not artifacts:
                raise ValueError("it holds no artifact")
            for art in artifacts:
                if (
                    "/" in art.file
                    or art.file.startswith(".")
                    or not re.fullmatch(r"[0-9a-f]{64}", art.sha256)
                ):
                    raise ValueError(f"invalid artifact entry {art.file!r}")
            for field_name in ("component", "file"):
                values = [getattr(a, field_name) for a in artifacts]
                if len(set(values)) != len(values):
                    raise ValueError(f"two artifacts share a {field_name}")
            compression = _typed(doc["compression"], dict, "compression")
            if compression.get("algorithm") not in ALGORITHMS:
                raise ValueError(f"unknown compression {compression.get('algorithm')!r}")
            encryption = doc["encryption"]
            if encryption is not None:
                _typed(encryption, dict, "encryption")
            return cls(
                id=doc["id"],
                stack=_typed(doc["stack"], str, "stack"),
                started=_time(doc["started"]),
                finished=_time(doc["finished"]),
                host=_typed(doc["host"], str, "host"),
                seawall_version=_typed(doc["seawall_version"], str, "seawall_version"),
                compression=dict(compression),
                encryption=encryption,
                artifacts=artifacts,
                failed=tuple(_failure(f) for f in _typed(doc.get("failed", []), list, "failed")),
                tags=tuple(_typed(t, str, "tag") for t in _typed(doc.get("tags", []), list, "tags")),
                checksum=checksum,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestCorrupt(f"manifest {where} is corrupt: {exc}") from exc


ALGORITHMS = ("zstd", "none")
_T = TypeVar("_T")


def _checked(doc: dict[str, Any]) -> str | None:
    """The document's checksum once it matches the content; None for a manifest from before them."""
    if CHECKSUM not in doc:
        unknown = sorted(doc.keys() - _BEFORE_CHECKSUM)
        if unknown:
            raise ValueError(
                f"it has no checksum but fields Seawall never wrote without one ({unknown!r:.80}):"
                " it was changed after it was committed"
            )
        return None
    recorded = _typed(doc[CHECKSUM], str, CHECKSUM)
    algorithm = recorded.partition(":")[0]
    if algorithm not in _DIGESTS:
        raise ValueError(f"its checksum {recorded!r:.40} names an algorithm this Seawall does not know")
    if manifest_checksum(doc, algorithm) != recorded:
        raise ValueError("it was changed after it was committed: its content does not match its checksum")
    return recorded


def _typed(value: Any, kind: type[_T], what: str) -> _T:
    """``value`` if it is a ``kind`` (a bool is no number here), else ValueError naming ``what``."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{what} is {type(value).__name__} {value!r:.40}, not {kind.__name__}")
    return value


_ARTIFACT_TYPES: dict[str, type] = {
    "component": str, "kind": str, "file": str, "format": str, "raw_bytes": int, "stored_bytes": int,
    "sha256": str, "tool_versions": dict, "position": dict, "fingerprint": dict, "notes": list,
}  # fmt: skip


def _artifact(entry: Any) -> Artifact:
    """One artifact entry, every field of the type the engine relies on (a hand edit is caught here)."""
    for name, kind in _ARTIFACT_TYPES.items():
        if name in _typed(entry, dict, "artifact"):
            _typed(entry[name], kind, f"artifact field {name}")
    if any(entry.get(n, 0) < 0 for n in ("raw_bytes", "stored_bytes")):
        raise ValueError("an artifact size is negative")
    duration = float(entry.get("duration", 0))
    if not math.isfinite(duration):
        raise ValueError("an artifact duration is not a number")
    if entry.get("server_version") is not None:
        _typed(entry["server_version"], str, "artifact field server_version")
    return Artifact(**{**entry, "duration": duration})


def _failure(entry: Any) -> Failure:
    for name in ("component", "kind", "error"):
        _typed(_typed(entry, dict, "failure")[name], str, f"failure field {name}")
    return Failure(**entry)


def _time(value: Any) -> float:
    """An epoch time that sorts and has a UTC calendar date (retention buckets and listings need one).

    A time in the future (a clock that was wrong) is still a time: it is kept as written.
    """
    ts = float(value)
    if not math.isfinite(ts):
        raise ValueError(f"time {value!r} is not a number")
    try:
        datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"time {value!r} has no calendar date") from None
    return ts


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")
