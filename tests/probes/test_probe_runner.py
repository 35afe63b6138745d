"""run_probe and run_probes: timeouts, bounded concurrency, order, and no exception escaping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from seawall.config.probes import ProbeSpec
from seawall.probes import (
    KINDS,
    ProbeResult,
    ProbeTarget,
    Status,
    build_check,
    run_probe,
    run_probes,
    run_probes_sync,
)
from seawall.probes import runner as runner_module
from seawall.probes.command import CommandProbe
from seawall.probes.http import HttpProbe
from seawall.probes.mysql import MysqlProbe
from seawall.probes.outcome import Stopwatch
from seawall.probes.postgres import PostgresProbe
from seawall.probes.redis import RedisProbe
from seawall.probes.result import Check
from seawall.probes.tcp import TcpProbe

TCP = ProbeSpec.model_validate({"tcp": 1, "timeout": "200ms"})


class Gauge:
    """A fake check that records how many of its kind run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    def check(self, delay: float = 0.01) -> Check:
        gauge = self

        class Fake:
            async def __call__(self) -> ProbeResult:
                gauge.running += 1
                gauge.peak = max(gauge.peak, gauge.running)
                try:
                    await asyncio.sleep(delay)
                finally:
                    gauge.running -= 1
                return Stopwatch().passed("fake")

        return Fake()


def use(monkeypatch: pytest.MonkeyPatch, make: object) -> None:
    monkeypatch.setattr(runner_module, "build_check", lambda spec, sessions=None: make)


def test_every_kind_has_its_own_check_class() -> None:
    specs = {
        "http": ({"http": "http://127.0.0.1:1/"}, HttpProbe),
        "tcp": ({"tcp": 1}, TcpProbe),
        "postgres": ({"postgres": "postgresql://127.0.0.1/x"}, PostgresProbe),
        "redis": ({"redis": "redis://127.0.0.1:1/0"}, RedisProbe),
        "mysql": ({"mariadb": "mariadb://127.0.0.1/x"}, MysqlProbe),
        "command": ({"command": "true"}, CommandProbe),
    }
    assert sorted(KINDS) == sorted(specs)
    for data, cls in specs.values():
        assert isinstance(build_check(ProbeSpec.model_validate(data)), cls)


def test_concurrency_is_bounded_and_order_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    gauge = Gauge()
    use(monkeypatch, gauge.check())
    items = [(ProbeTarget(f"c{i}", "ready"), TCP) for i in range(40)]
    results = run_probes_sync(items, concurrency=5)
    assert gauge.peak == 5
    assert [t.component for t, _ in results] == [f"c{i}" for i in range(40)]
    assert all(r.status is Status.PASS and r.observed["kind"] == "tcp" for _, r in results)


def test_the_timeout_is_enforced_on_any_check(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, Gauge().check(delay=30))
    result = asyncio.run(run_probe(TCP))
    assert (result.status, result.detail) == (Status.FAIL, "timed out after 0.2s")
    assert result.latency >= 0.2


def test_an_unexpected_exception_becomes_a_redacted_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def __call__(self) -> ProbeResult:
            raise RuntimeError("boom near redis://u:hunter2@h/0")

    use(monkeypatch, Broken())
    with caplog.at_level(logging.CRITICAL, logger="seawall.probes"):
        result = asyncio.run(run_probe(TCP))
    assert result.status is Status.FAIL
    assert result.detail == "probe error: RuntimeError: boom near redis://u:***@h/0"


def test_one_failing_probe_does_not_disturb_the_others() -> None:
    items = [
        (ProbeTarget("a", "ready"), ProbeSpec.model_validate({"command": "true"})),
        (ProbeTarget("b", "live"), ProbeSpec.model_validate({"mysql": "bogus://x"})),
        (ProbeTarget("c", "ready"), ProbeSpec.model_validate({"command": "exit 2"})),
    ]
    results = asyncio.run(run_probes(items))
    assert [(t.key, r.status) for t, r in results] == [
        ("a.ready", Status.PASS),
        ("b.live", Status.FAIL),
        ("c.ready", Status.FAIL),
    ]


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run_probes_sync([], concurrency=0)


def test_no_probes_is_no_results() -> None:
    assert run_probes_sync([]) == []
