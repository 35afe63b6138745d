"""Pure chaos logic: tolerances, JSONPath, recovery statistics, verdicts, planning, edges, CTK import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seawall.chaos.edges import find_address, plan_edges, proxy_definitions, rewrite_env
from seawall.chaos.experiment import (
    import_chaostoolkit,
    is_chaostoolkit,
    measure,
    parse_experiment,
    percentile,
    plan_experiment,
    within_tolerance,
)
from seawall.chaos.experiment.jsonpath import find
from seawall.chaos.experiment.verdict import EXIT_CODES, Facts, RunStatus, verdict
from seawall.config import StackConfig
from seawall.errors import ConfigError, UsageError


def _stack() -> StackConfig:
    return StackConfig.model_validate(
        {
            "stack": "s",
            "components": {
                "catalog": {"command": ["x"], "probes": {"ready": {"tcp": 9}}},
                "cart": {"command": ["x"]},
                "web": {
                    "command": ["x"],
                    "env": {"CATALOG_URL": "http://127.0.0.1:8001/api", "CART": "127.0.0.1:8002"},
                    "edges": {"catalog": "CATALOG_URL", "cart": "CART"},
                },
            },
        }
    ).bind(Path("/tmp"), None)


@pytest.mark.parametrize(
    ("tolerance", "value", "expected"),
    [
        (True, True, True),
        (True, 1, False),
        (0, {"status": 0, "stdout": "", "stderr": ""}, True),
        (200, {"status": 503, "headers": {}, "body": ""}, False),
        ([200, 201], {"status": 201, "headers": {}, "body": ""}, True),
        ({"type": "range", "range": [200, 299]}, {"status": 204, "body": ""}, True),
        ({"type": "range", "range": [0, 10], "target": "body"}, {"status": 200, "body": 11}, False),
        ({"type": "regex", "pattern": "^ok"}, {"status": 0, "stdout": "ok\n"}, True),
        (
            {"type": "jsonpath", "path": "$.checks[*].status", "expect": "pass"},
            {"status": 200, "body": {"checks": [{"status": "pass"}]}},
            True,
        ),
        ({"type": "jsonpath", "path": "$.a", "expect": 2}, {"status": 200, "body": '{"a": 1}'}, False),
        (
            {"type": "jsonpath", "path": "$..id", "count": 2},
            {"body": {"x": [{"id": 1}, {"y": {"id": 2}}]}},
            True,
        ),
        (None, {"status": 302, "headers": {}, "body": ""}, True),
        (None, {"status": 1, "stdout": "", "stderr": ""}, False),
    ],
)
def test_chaos_tolerance_semantics_follow_chaos_toolkit(tolerance: Any, value: Any, expected: bool) -> None:
    assert within_tolerance(tolerance, value) is expected


def test_chaos_jsonpath_subset_and_rejects_filters() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}, "d": {"c": 3}}
    assert find(doc, "$.a.b[1].c") == [2]
    assert find(doc, "$.a.b[*].c") == [1, 2]
    assert find(doc, "$..c") == [1, 2, 3]
    assert find(doc, "a['b'][-1]") == [{"c": 2}]
    with pytest.raises(ValueError, match="unsupported"):
        find(doc, "$.a.b[?(@.c > 1)]")


def test_chaos_recovery_needs_k_consecutive_passes_after_removal() -> None:
    samples = [(0.0, True), (1.0, False), (2.0, True), (3.0, False), (4.0, True), (5.0, True), (6.0, True)]
    r = measure(samples, injected=0.5, removed=2.5, k=2)
    assert r.time_to_impact == pytest.approx(0.5)
    assert r.recovered == 4.0  # the pass at 2.0 was before removal; 3.0 broke the streak
    assert r.mttr == pytest.approx(3.0)
    assert r.after_removal == pytest.approx(1.5)
    assert measure([(1.0, True)], 0.0, 0.5, 3).impact is None
    assert not measure([(1.0, False), (2.0, True)], 0.0, 0.5, 3).recovered_ok


def test_chaos_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4.0, 1.0, 2.0, 3.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([], 50) is None


def test_chaos_verdict_precedence_and_distinct_exit_codes() -> None:
    assert verdict(Facts()) is RunStatus.PASSED
    assert verdict(Facts(during_ok=False)) is RunStatus.DEVIATED
    assert verdict(Facts(during_ok=False, strict=False)) is RunStatus.PASSED
    assert verdict(Facts(recovered_in_time=False, during_ok=False)) is RunStatus.NOT_RECOVERED
    assert verdict(Facts(injection_failed=True, interrupted=True)) is RunStatus.INTERRUPTED
    assert verdict(Facts(restore_failed=True, interrupted=True)) is RunStatus.RESTORE_FAILED
    assert verdict(Facts(guard_tripped=True, injection_failed=True)) is RunStatus.ABORTED_BY_GUARD
    assert len(set(EXIT_CODES.values())) == len(RunStatus)


def _kill(component: object, targets: list[str]) -> dict[str, Any]:
    return {"title": "t", "targets": targets, "method": [{"fault": {"kind": "kill", "component": component}}]}


def test_chaos_plan_is_replayable_from_its_seed_and_respects_the_allow_list() -> None:
    stack = _stack()
    exp = parse_experiment(_kill("*", ["catalog", "cart"]))
    picks = {plan_experiment(exp, stack, seed).faults[0].target for seed in range(20)}
    assert picks == {"catalog", "cart"}
    assert plan_experiment(exp, stack, 3).faults[0].target == plan_experiment(exp, stack, 3).faults[0].target
    with pytest.raises(UsageError, match="not in the experiment's targets"):
        plan_experiment(parse_experiment(_kill("web", ["catalog"])), stack, 1)
    with pytest.raises(ConfigError, match="targets"):
        parse_experiment({"title": "t", "method": [{"fault": {"kind": "kill", "component": "web"}}]})


def test_chaos_plan_edges_and_blast_radius() -> None:
    doc = {
        "title": "t",
        "targets": ["catalog"],
        "method": [{"fault": {"kind": "latency", "edge": "web->catalog", "ms": 800}}],
    }
    plan = plan_experiment(parse_experiment(doc), _stack(), 1)
    planned = plan.faults[0].to_dict()
    assert planned["fault"]["attributes"] == {"latency": 800, "jitter": 0}
    assert planned["inverse"]["kind"] == "remove_toxic"
    assert plan.blast_radius == ["catalog", "web", "web->catalog"]
    bad = {
        **doc,
        "method": [{"fault": {"kind": "latency", "edge": "cart->web", "ms": 1}}],
        "targets": ["web"],
    }
    with pytest.raises(UsageError, match="declares no edge"):
        plan_experiment(parse_experiment(bad), _stack(), 1)


def test_chaos_edges_rewrite_caller_env_to_proxy_listeners() -> None:
    stack = _stack()
    ports = iter([9101, 9102])
    routes = plan_edges(stack, lambda edge: next(ports))
    assert [(r.edge, r.upstream, r.listen) for r in routes] == [
        ("web->catalog", "127.0.0.1:8001", "127.0.0.1:9101"),
        ("web->cart", "127.0.0.1:8002", "127.0.0.1:9102"),
    ]
    rewired = rewrite_env(stack, routes)
    assert rewired.components["web"].env["CATALOG_URL"] == "http://127.0.0.1:9101/api"
    assert rewired.components["web"].env["CART"] == "127.0.0.1:9102"
    assert stack.components["web"].env["CART"] == "127.0.0.1:8002"
    assert rewired.root == stack.root
    assert proxy_definitions(routes)[0] == {
        "name": "web_to_catalog", "listen": "127.0.0.1:9101", "upstream": "127.0.0.1:8001", "enabled": True
    }  # fmt: skip
    assert find_address("redis://user:pw@db.local:6379/0") is not None
    assert find_address("no address here") is None


CTK = {
    "version": "1.0.0",
    "title": "catalog survives",
    "tags": ["ctk"],
    "steady-state-hypothesis": {
        "title": "up",
        "probes": [
            {
                "type": "probe",
                "name": "home",
                "tolerance": 200,
                "provider": {"type": "http", "url": "http://127.0.0.1:1/", "timeout": 1, "secrets": ["x"]},
            },
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "hit",
            "provider": {"type": "process", "path": "true"},
            "pauses": {"after": 1},
        },
        "home",
    ],
    "rollbacks": [
        {"type": "action", "name": "py", "provider": {"type": "python", "module": "os", "func": "getcwd"}}
    ],
    "runtime": {"hypothesis": {"strategy": "continuously"}},
}


def test_chaos_import_chaostoolkit_converts_references_pauses_and_strategy() -> None:
    assert is_chaostoolkit(CTK)
    converted = import_chaostoolkit(CTK)
    assert not is_chaostoolkit(converted) or "steady_state" in converted
    exp = parse_experiment(converted)
    assert exp.title == "catalog survives"
    assert exp.steady_state.probes[0].tolerance == 200
    assert exp.method[0].pauses.after == 1.0
    assert exp.method[1].provider is not None
    assert exp.method[1].provider.url == "http://127.0.0.1:1/"
    assert exp.rollbacks[0].provider is not None
    assert exp.rollbacks[0].provider.func == "getcwd"
    assert exp.runtime.hypothesis == "strict"
    assert parse_experiment(CTK).title == exp.title  # run as they are
    with pytest.raises(UsageError, match="unknown activity"):
        import_chaostoolkit({**CTK, "method": ["nope"]})
