"""Policies by dependency name from a dict or YAML, the registry, and the metrics text."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.resilience import (
    AsyncPipeline,
    Breaker,
    CircuitOpenError,
    Pipeline,
    PolicyConfigError,
    Registry,
    Retry,
    load_policies,
    render_metrics,
)
from seawall.testing import test_mode

CONFIG = {
    "defaults": {"retry": {"attempts": 3, "on": ["ConnectionError", "TimeoutError"]}},
    "instances": {
        "catalog": {
            "retry": {"backoff": {"initial": "10ms", "maximum": "1s"}, "budget": {"capacity": 5}},
            "breaker": {"window": 20, "min_calls": 5, "open_for": "30s", "failure_on": "OSError"},
            "bulkhead": {"max_concurrent": 4, "max_queue": 8},
            "timeout": "5s",
            "attempt_timeout": {"seconds": 1, "mode": "deadline"},
            "on_open": "raise",
        },
        "payments": {"retry": {"attempts": 5}},
    },
}


def test_builds_named_pipelines_with_shared_breaker() -> None:
    registry = Registry()
    policies = load_policies(CONFIG, registry=registry)
    assert policies.names == ["catalog", "payments"]
    pipe = policies.pipeline("catalog")
    assert isinstance(pipe, Pipeline)
    assert policies.pipeline("catalog") is pipe
    apipe = policies.async_pipeline("catalog")
    assert isinstance(apipe, AsyncPipeline)
    assert pipe.breaker is apipe.breaker is registry.get_breaker("catalog")
    assert pipe.breaker is not None
    assert pipe.breaker.open_for == 30.0
    assert pipe.retry is not None
    assert pipe.retry.attempts_max == 3
    assert pipe.retry.backoff.initial == pytest.approx(0.01)
    assert pipe.timeout is not None
    assert pipe.timeout.seconds == 5.0
    assert policies.pipeline("payments").breaker is None


def test_configured_pipeline_works_end_to_end() -> None:
    registry = Registry()
    pipe = load_policies(CONFIG, registry=registry).pipeline("catalog")
    calls = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError("down")

    with test_mode():
        with pytest.raises(ConnectionError):
            pipe.call(down)
        assert len(calls) == 3
        with pytest.raises(CircuitOpenError):
            pipe.call(down)  # the fifth attempt reaches min_calls and opens the breaker
    assert len(calls) == 5


def test_whole_seawall_yaml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "seawall.yaml"
    path.write_text(
        "resilience:\n  instances:\n    web:\n      retry:\n"
        "        on: [ConnectionError]\n        attempts: 2\n"
        "      breaker: {window: 10, min_calls: 2}\n",
        encoding="utf-8",
    )
    policies = load_policies(path, registry=Registry())
    retry = policies.pipeline("web").retry
    assert retry is not None
    assert retry.retries_exception(ConnectionError())  # a bare YAML `on:` key is read right
    assert retry.attempts_max == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"instances": {"a": {"circuit": {}}}}, r"instances\.a: unknown policy 'circuit'"),
        ({"instances": {"a": {"breaker": {"windw": 3}}}}, r"instances\.a\.breaker: unknown key 'windw'"),
        ({"instances": {"a": {"retry": {"on": ["NoSuchError"]}}}}, "not a known exception"),
        ({"instances": {"a": {"retry": {"on": ["nosuchmod.Err"]}}}}, "cannot import"),
        ({"instances": {"a": {"retry": {"attempts": 3}}}}, "'on' is required"),
        ({"instances": {"a": {"breaker": {"window": 5, "min_calls": 9}}}}, "impossible breaker window"),
        ({"instances": {"a": {"bulkhead": {"max_concurrent": 0}}}}, "max_concurrent"),
        ({"instances": {"a": {"timeout": "soon"}}}, "not a duration"),
        ({"instances": {"a": {"on_open": "later"}}}, "on_open"),
        ({"instance": {}}, "unknown key"),
    ],
)
def test_bad_config_fails_at_load_with_its_path(config: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        load_policies(config, registry=Registry())


def test_unknown_instance_name_lists_the_known_ones() -> None:
    policies = load_policies(CONFIG, registry=Registry())
    with pytest.raises(
        PolicyConfigError, match=r"no resilience instance named 'ctalog' \(known: catalog, payments\)"
    ):
        policies.pipeline("ctalog")


def test_registry_lookups_and_duplicates() -> None:
    registry = Registry()
    breaker = registry.breaker("db", window=5, min_calls=5)
    assert registry.breaker("db") is breaker
    assert registry.get_breaker("db") is breaker
    with pytest.raises(PolicyConfigError, match="already registered"):
        registry.add(Breaker("db"))
    with pytest.raises(PolicyConfigError, match=r"known: db"):
        registry.get_breaker("cache")


def test_metrics_text_reports_calls_state_retries_and_open_time() -> None:
    registry = Registry()
    breaker = registry.add(Breaker('we"ird', window=2, min_calls=2))
    retry = registry.add(Retry(on=ValueError, name="r"))
    breaker.call(lambda: 1)
    retry.call(lambda: 1)
    breaker.force_open()
    text = render_metrics(registry)
    assert 'seawall_breaker_calls_total{breaker="we\\"ird",outcome="success"} 1' in text
    assert 'seawall_breaker_state{breaker="we\\"ird",state="forced_open"} 1' in text
    assert 'seawall_breaker_state{breaker="we\\"ird",state="closed"} 0' in text
    assert "# TYPE seawall_breaker_open_seconds_total counter" in text
    assert 'seawall_retry_calls_total{retry="r",outcome="success"} 1' in text
    assert 'seawall_retry_retries_total{retry="r"} 0' in text
    for line in text.splitlines():
        assert line.startswith("#") or float(line.rsplit(" ", 1)[1]) >= 0
