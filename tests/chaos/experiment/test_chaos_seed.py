"""The run's seed decides which connections a partial-toxicity fault hits, so `--seed N` replays them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from chaos_helpers import MakeStack
from edge_helpers import FAST, edge_stack, fetch

from seawall.chaos.experiment import RunStatus, build_journal, parse_experiment, run_experiment
from seawall.chaos.experiment.plan import toxic_seed
from seawall.chaos.proxy import ProxyServer
from seawall.chaos.proxy.errors import BadRequest
from seawall.chaos.proxy.spec import LinkRandom, parse_toxic

CONNECTIONS = 24


def affected(address: str, count: int) -> list[int]:
    """The ordinals of ``count`` sequential connections through ``address`` that the fault cut."""
    return [n for n in range(count) if fetch(address) != "ok"]


def _run(stack: Any, address: str, seed: int) -> tuple[list[int], dict[str, Any]]:
    doc = {
        "title": "half the connections",
        "targets": ["catalog"],
        "method": [
            {"fault": {"kind": "timeout", "edge": "web->catalog", "ms": 1, "toxicity": 0.5}},
            {
                "name": "sample",
                "type": "probe",
                "provider": {
                    "type": "python",
                    "module": __name__,
                    "func": "affected",
                    "arguments": {"address": address, "count": CONNECTIONS},
                },
            },
        ],
        "runtime": dict(FAST),
    }
    record = run_experiment(parse_experiment(doc), stack, seed=seed, handle_signals=False)
    assert record.status is RunStatus.PASSED, record.notes
    journal = build_journal(record)
    sample = next(r for r in journal["run"] if r["activity"]["name"] == "sample")
    return list(sample["output"]), journal


@pytest.mark.integration
def test_chaos_same_run_seed_hits_the_same_connections(make_stack: MakeStack) -> None:
    """toxicity 0.5 through the supervisor's proxy: seed 7 twice hits the same set; seed 8 another."""
    stack, _, edges = edge_stack(make_stack)
    address = edges["web->catalog"]
    fetch(address)  # traffic before the runs must not shift the draws
    first, journal = _run(stack, address, 7)
    fetch(address)
    again, _ = _run(stack, address, 7)
    other, other_journal = _run(stack, address, 8)
    assert 0 < len(first) < CONNECTIONS  # some hit, some spared: a real 0.5 draw
    assert again == first
    assert other != first
    fault = journal["seawall"]["faults"][0]
    assert journal["seawall"]["seed"] == 7
    assert fault["fault"]["seed"] == toxic_seed(7, 0)
    assert other_journal["seawall"]["faults"][0]["fault"]["seed"] == toxic_seed(8, 0)


def test_chaos_toxic_seed_overrides_the_proxy_seed() -> None:
    """Two proxy servers with different seeds draw the same links for a toxic with the same seed."""

    async def draws(server_seed: int, toxic: dict[str, Any], before: int) -> list[bool]:
        async with ProxyServer(seed=server_seed) as server:
            proxy = await server.add_proxy("p", "127.0.0.1:9", enabled=False)
            proxy.connections_total = before
            spec = await server.add_toxic("p", toxic)
            return [spec.applies(LinkRandom(server_seed, before + n)) for n in range(64)]

    seeded = {"type": "latency", "toxicity": 0.5, "seed": 99}
    a = asyncio.run(draws(1, seeded, 0))
    b = asyncio.run(draws(2, seeded, 40))
    assert a == b
    assert 10 < sum(a) < 54
    unseeded = {"type": "latency", "toxicity": 0.5}
    assert asyncio.run(draws(1, unseeded, 0)) != asyncio.run(draws(2, unseeded, 0))
    assert parse_toxic({"type": "latency", "seed": 5}).to_json()["seed"] == 5
    assert "seed" not in parse_toxic({"type": "latency"}).to_json()  # Toxiproxy's shape when unset
    with pytest.raises(BadRequest, match="seed must be a whole number"):
        parse_toxic({"type": "latency", "seed": -1})
