"""Fault specifications: toxic types, their attributes and units, validation, and Toxiproxy JSON."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from seawall.chaos.proxy.errors import BadRequest
from seawall.config.units import parse_duration

STREAMS = ("upstream", "downstream")
HTTP_TYPES = frozenset({"http_abort", "http_delay"})

# Defaults as Toxiproxy: times in milliseconds (slicer delay in microseconds), rate in KB/s
# (1 KB = 1000 bytes), sizes in bytes. A missing attribute takes its default, unknown ones are
# ignored, as Toxiproxy's JSON decoding does.
_MATCH: dict[str, Any] = {"rate": 1.0, "method": "", "path_prefix": "", "header": ""}
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
    "down": {},
    "http_abort": {"status": 503, "body": "", **_MATCH},
    "http_delay": {"delay": 0, **_MATCH},
}

_uids = itertools.count(1)


class LinkRandom(random.Random):
    """A link's RNG, knowing the link's ordinal on its proxy (0 for the first connection it accepted)."""

    def __init__(self, seed: int, ordinal: int) -> None:
        super().__init__(seed)
        self.ordinal = ordinal


@dataclass(frozen=True)
class ToxicSpec:
    """One fault on one proxy: a toxic of ``type`` on ``stream`` applying to a ``toxicity`` share of links.

    ``ttl`` is seconds until the proxy removes the fault by itself (None: never). ``uid`` changes on
    every update, so a link knows its stage for this toxic must be rebuilt. ``seed`` (a Seawall
    extension) makes the toxicity draw a function of the seed and the link's ordinal counted from
    ``first_link`` (the proxy's connection count when the toxic was added): the n-th connection
    after the toxic went in is hit or not whatever else ran before, so a run replays.
    """

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, Any] = field(default_factory=dict)
    ttl: float | None = None
    uid: int = field(default_factory=lambda: next(_uids))
    seed: int | None = None
    first_link: int = 0

    def applies(self, rng: random.Random) -> bool:
        """Whether this toxic applies to a link: one draw per link, from the toxic's seed if it has one,
        else from the link's RNG (seeded by the proxy's seed)."""
        if self.seed is not None and isinstance(rng, LinkRandom):
            return random.Random(f"{self.seed}:{rng.ordinal - self.first_link}").random() < self.toxicity
        return rng.random() < self.toxicity

    def stage_random(self, rng: random.Random) -> random.Random:
        """The RNG a stage of this toxic draws jitter and per-request rates from, on a link with ``rng``.

        A seeded toxic gives each link its own stream from the seed and the link's ordinal, so a
        replay draws the same jitter and the same HTTP requests; otherwise the link's RNG.
        """
        if self.seed is not None and isinstance(rng, LinkRandom):
            return random.Random(f"{self.seed}:{rng.ordinal - self.first_link}:stage")
        return rng

    def to_json(self) -> dict[str, Any]:
        """The Toxiproxy 2.x toxic shape, plus ``ttl`` in ms (null: no expiry) and ``seed`` if set."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
            "ttl": None if self.ttl is None else round(self.ttl * 1000),
        }
        if self.seed is not None:
            data["seed"] = self.seed
        return data


def _number(kind: Any, key: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"bad request body: attribute {key!r} must be a number")
    if value < 0:
        raise BadRequest(f"bad request body: attribute {key!r} cannot be negative")
    if isinstance(kind, float):
        return float(value)
    if value != int(value):
        raise BadRequest(f"bad request body: attribute {key!r} must be a whole number")
    return int(value)


def _attributes(kind: str, given: Any, base: Mapping[str, Any]) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise BadRequest("bad request body: attributes must be an object")
    out = dict(base)
    for key, default in ATTRIBUTES[kind].items():
        if key not in given:
            continue
        value = given[key]
        if isinstance(default, str):
            if not isinstance(value, str):
                raise BadRequest(f"bad request body: attribute {key!r} must be a string")
            out[key] = value
        else:
            out[key] = _number(default, key, value)
    if kind in HTTP_TYPES:
        if out["rate"] > 1:
            raise BadRequest("bad request body: attribute 'rate' must be between 0 and 1")
        if kind == "http_abort" and not 100 <= out["status"] <= 599:
            raise BadRequest("bad request body: attribute 'status' must be an HTTP status code")
    return out


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise BadRequest("bad request body: toxicity must be a number between 0 and 1")
    return float(value)


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest("bad request body: seed must be a whole number, 0 or more")
    return value


def _ttl(value: Any) -> float | None:
    """Milliseconds as a number (Toxiproxy's unit) or a duration string ("30s"); 0 means no expiry."""
    try:
        seconds = (
            value / 1000
            if isinstance(value, int | float) and not isinstance(value, bool)
            else (parse_duration(value))
        )
    except ValueError as exc:
        raise BadRequest(f"bad request body: ttl: {exc}") from None
    if seconds < 0:
        raise BadRequest("bad request body: ttl cannot be negative")
    return seconds or None


def parse_toxic(data: Any, default_ttl: float | None = None) -> ToxicSpec:
    """A ToxicSpec from a Toxiproxy create-toxic body; defaults as Toxiproxy (downstream, toxicity 1)."""
    if not isinstance(data, Mapping):
        raise BadRequest("bad request body: expected a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in ATTRIBUTES:
        raise BadRequest("invalid toxic type")
    stream = data.get("stream") or ("upstream" if kind in HTTP_TYPES else "downstream")
    if stream not in STREAMS:
        raise BadRequest("stream was invalid, can be either upstream or downstream")
    if kind in HTTP_TYPES and stream != "upstream":
        raise BadRequest("http faults act on requests: stream must be upstream")
    name = data.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise BadRequest("bad request body: name must be a string")
    return ToxicSpec(
        name=name,
        type=kind,
        stream=stream,
        toxicity=_toxicity(data.get("toxicity", 1.0)),
        attributes=_attributes(kind, data.get("attributes"), ATTRIBUTES[kind]),
        ttl=_ttl(data["ttl"]) if "ttl" in data and data["ttl"] is not None else default_ttl,
        seed=_seed(data.get("seed")),
    )


def update_toxic(spec: ToxicSpec, data: Any) -> ToxicSpec:
    """The spec with a Toxiproxy update body applied: attributes merged, toxicity and ttl replaced."""
    if not isinstance(data, Mapping):
        raise BadRequest("bad request body: expected a JSON object")
    return replace(
        spec,
        toxicity=_toxicity(data.get("toxicity", spec.toxicity)),
        attributes=_attributes(spec.type, data.get("attributes"), spec.attributes),
        ttl=_ttl(data["ttl"]) if data.get("ttl") is not None else spec.ttl,
        seed=_seed(data["seed"]) if data.get("seed") is not None else spec.seed,
        uid=next(_uids),
    )


def parse_address(value: Any, what: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as a pair; port 0 lets the OS choose."""
    if not isinstance(value, str) or ":" not in value:
        raise BadRequest(f"bad request body: {what} must be 'host:port'")
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise BadRequest(f"bad request body: {what} has an invalid port")
    return host, int(port)


__all__ = [
    "ATTRIBUTES",
    "HTTP_TYPES",
    "STREAMS",
    "LinkRandom",
    "ToxicSpec",
    "parse_address",
    "parse_toxic",
    "update_toxic",
]
