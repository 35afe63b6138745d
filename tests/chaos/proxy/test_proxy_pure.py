"""Pure logic of the fault proxy, without I/O: TTL expiry, toxicity draws, HTTP framing, stages."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from seawall.chaos.proxy.errors import BadRequest
from seawall.chaos.proxy.http_faults import HttpAbort, RequestMatcher
from seawall.chaos.proxy.http_framing import Body, End, Opaque, RequestFramer, RequestHead, parse_head
from seawall.chaos.proxy.spec import LinkRandom, ToxicSpec, parse_toxic, update_toxic
from seawall.chaos.proxy.toxics import Bandwidth, Latency, LimitData, Slicer, Stage
from seawall.chaos.proxy.ttl import Expiries


def test_expiries_pop_due_keys_in_order_and_honour_replacement() -> None:
    exp: Expiries[str] = Expiries()
    exp.set("a", 10.0)
    exp.set("b", 5.0)
    exp.set("c", 7.0)
    exp.set("a", 20.0)  # extended
    exp.discard("c")
    assert exp.next_deadline() == 5.0
    assert exp.pop_due(9.0) == ["b"]
    assert exp.pop_due(19.0) == []
    assert exp.next_deadline() == 20.0
    assert exp.pop_due(20.0) == ["a"]
    assert len(exp) == 0
    assert exp.next_deadline() is None


def test_toxic_defaults_follow_toxiproxy() -> None:
    spec = parse_toxic({"type": "latency"}, default_ttl=60)
    assert (spec.name, spec.stream, spec.toxicity, spec.ttl) == ("latency_downstream", "downstream", 1.0, 60)
    assert spec.attributes == {"latency": 0, "jitter": 0}
    http = parse_toxic({"type": "http_abort", "ttl": "30s"})
    assert (http.stream, http.ttl, http.attributes["status"]) == ("upstream", 30.0, 503)
    assert parse_toxic({"type": "latency", "ttl": 0}, default_ttl=60).ttl is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "nope"},
        {"type": "latency", "stream": "both"},
        {"type": "latency", "toxicity": 1.5},
        {"type": "latency", "attributes": {"latency": -1}},
        {"type": "latency", "attributes": {"latency": "fast"}},
        {"type": "http_abort", "stream": "downstream"},
        {"type": "http_abort", "attributes": {"status": 42}},
        {"type": "latency", "ttl": "soon"},
    ],
)
def test_invalid_toxics_are_bad_requests(body: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        parse_toxic(body)


def test_update_merges_attributes_and_changes_identity() -> None:
    spec = parse_toxic({"type": "latency", "attributes": {"latency": 100, "jitter": 5}})
    changed = update_toxic(spec, {"attributes": {"latency": 7}, "toxicity": 0.5})
    assert changed.attributes == {"latency": 7, "jitter": 5}
    assert changed.toxicity == 0.5
    assert changed.uid != spec.uid


def test_toxicity_draws_are_reproducible_with_a_seed() -> None:
    spec = parse_toxic({"type": "latency", "toxicity": 0.3})
    draws = [[spec.applies(rng) for _ in range(1000)] for rng in (random.Random(1), random.Random(1))]
    assert draws[0] == draws[1]
    assert 250 < sum(draws[0]) < 350
    assert all(parse_toxic({"type": "latency"}).applies(random.Random(i)) for i in range(50))


def test_framer_splits_keep_alive_requests_with_length_and_chunked_bodies() -> None:
    stream = (
        b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        b"GET /c?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    for step in (len(stream), 1, 7):
        framer = RequestFramer()
        events = [e for i in range(0, len(stream), step) for e in framer.feed(stream[i : i + step])]
        heads = [e for e in events if isinstance(e, RequestHead)]
        assert [(h.method, h.path) for h in heads] == [("POST", "/a"), ("PUT", "/b"), ("GET", "/c")]
        assert sum(isinstance(e, End) for e in events) == 3
        raw = b"".join(e.raw for e in events if isinstance(e, RequestHead | Body))
        assert raw == stream  # framing never changes a byte


def test_framer_passes_upgrades_and_garbage_as_opaque() -> None:
    framer = RequestFramer()
    events = framer.feed(
        b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
    )
    assert isinstance(events[-1], Opaque)
    assert events[-1].raw == b"\x81\x05hello"
    assert isinstance(RequestFramer().feed(b"\x16\x03\x01 not http\r\n\r\n")[0], Opaque)


def test_matcher_checks_method_path_prefix_and_header() -> None:
    head = parse_head(b"POST http://h/api/v1?x HTTP/1.1\r\nX-Chaos: on\r\n\r\n")
    assert head is not None
    assert head.path == "/api/v1"
    assert RequestMatcher("post", "/api", "x-chaos: on")(head)
    assert RequestMatcher(header="X-Chaos")(head)
    assert not RequestMatcher(method="GET")(head)
    assert not RequestMatcher(path_prefix="/web")(head)
    assert not RequestMatcher(header="X-Chaos: off")(head)


class FakeControl:
    """A LinkControl whose clock moves only by sleeping, recording every wait."""

    def __init__(self) -> None:
        self.rng = random.Random(3)
        self.now = 100.0
        self.sleeps: list[float] = []
        self.closed = False
        self.replies: list[bytes] = []

    def time(self) -> float:
        return self.now

    async def sleep_until(self, deadline: float, stage: Stage) -> bool:
        self.sleeps.append(deadline)
        self.now = max(self.now, deadline)
        return True

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        raise AssertionError("not used")

    def close(self) -> None:
        self.closed = True

    def reset(self) -> None:
        self.closed = True

    def reply(self, data: bytes, close: bool) -> None:
        self.replies.append(data)


def run_stage(
    stage: Stage, chunks: list[bytes | None], due: float = 100.0
) -> list[tuple[bytes | None, float]]:
    out: list[tuple[bytes | None, float]] = []

    async def emit(chunk: bytes | None, at: float) -> None:
        out.append((chunk, at))

    async def main() -> None:
        for chunk in chunks:
            await stage(chunk, due, emit)

    asyncio.run(main())
    return out


def test_latency_due_times_stack_and_jitter_stays_in_bounds() -> None:
    ctl = FakeControl()
    out = run_stage(Latency({"latency": 100, "jitter": 20}, ctl), [b"a", b"b", b"c", None])
    assert [c for c, _ in out] == [b"a", b"b", b"c", None]
    assert all(100.08 <= at <= 100.12 for _, at in out[:3])
    assert len({at for _, at in out[:3]}) == 3


def test_bandwidth_paces_pieces_of_100ms() -> None:
    ctl = FakeControl()
    out = run_stage(Bandwidth({"rate": 10}, ctl), [b"x" * 3500])  # 10 KB/s: 1000-byte pieces
    assert [len(c or b"") for c, _ in out] == [1000, 1000, 1000, 500]
    assert ctl.now == pytest.approx(100.35)


def test_limit_data_passes_the_limit_then_closes() -> None:
    ctl = FakeControl()
    out = run_stage(LimitData({"bytes": 5}, ctl), [b"abc", b"defg", b"h"])
    assert [c for c, _ in out] == [b"abc", b"de"]
    assert ctl.closed


def test_slicer_keeps_bytes_and_order() -> None:
    ctl = FakeControl()
    out = run_stage(Slicer({"average_size": 4, "size_variation": 2, "delay": 10}, ctl), [bytes(range(40))])
    assert b"".join(c or b"" for c, _ in out) == bytes(range(40))
    assert all(2 <= len(c or b"") <= 6 for c, _ in out[:-1])


def test_http_abort_answers_and_drops_only_matching_requests() -> None:
    ctl = FakeControl()
    attrs = {"status": 503, "body": "", "rate": 1.0, "method": "", "path_prefix": "/api", "header": ""}
    stream = b"GET /api HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\nConnection: close\r\n\r\n"
    out = run_stage(HttpAbort(attrs, ctl, "boom"), [stream])
    assert b"".join(c or b"" for c, _ in out) == b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert len(ctl.replies) == 1
    assert ctl.replies[0].startswith(b"HTTP/1.1 503 Service Unavailable\r\n")


def test_a_seeded_toxic_gives_each_link_its_own_replayable_stream() -> None:
    """Jitter and per-request rates of a seeded toxic depend on the seed and the link's ordinal only."""
    seeded = parse_toxic({"type": "latency", "attributes": {"latency": 10, "jitter": 5}, "seed": 42}, None)

    def draws(spec: ToxicSpec, link_seed: int, ordinal: int) -> list[float]:
        rng = spec.stage_random(LinkRandom(link_seed, ordinal))
        return [rng.random() for _ in range(3)]

    assert draws(seeded, 1, 3) == draws(seeded, 999, 3)  # the proxy's own draws don't matter
    assert draws(seeded, 1, 3) != draws(seeded, 1, 4)
    unseeded = parse_toxic({"type": "latency", "attributes": {"latency": 10}}, None)
    link = LinkRandom(5, 0)
    assert unseeded.stage_random(link) is link
