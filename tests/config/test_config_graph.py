"""Dependency ordering of components."""

from __future__ import annotations

import pytest

from seawall.config.graph import (
    CycleError,
    find_cycle,
    start_order,
    with_dependencies,
    with_dependents,
)


def test_waves_respect_dependencies() -> None:
    deps = {"web": ["api"], "api": ["db", "cache"], "db": [], "cache": [], "worker": ["db"]}
    assert start_order(deps) == [["cache", "db"], ["api", "worker"], ["web"]]


def test_cycle_is_reported_as_a_closed_path() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    with pytest.raises(CycleError) as info:
        start_order(deps)
    assert info.value.cycle[0] == info.value.cycle[-1]
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "dependency cycle" in str(info.value)


def test_no_cycle_gives_empty_path() -> None:
    assert find_cycle({"a": ["b"], "b": []}) == []


def test_closures_follow_edges_both_ways() -> None:
    deps = {"web": ["api"], "api": ["db"], "db": [], "other": []}
    assert with_dependencies(deps, ["web"]) == {"web", "api", "db"}
    assert with_dependents(deps, ["db"]) == {"db", "api", "web"}
