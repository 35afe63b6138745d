"""Dependency ordering of components: a pure topological sort with cycle reporting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class CycleError(ValueError):
    """The dependency graph has a cycle; ``cycle`` lists it, first node repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


def start_order(deps: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Components in waves: each wave depends only on earlier waves; names sorted within a wave."""
    remaining = {name: set(d) for name, d in deps.items()}
    waves: list[list[str]] = []
    while remaining:
        ready = sorted(n for n, d in remaining.items() if not d & remaining.keys())
        if not ready:
            raise CycleError(find_cycle({n: sorted(d) for n, d in remaining.items()}))
        waves.append(ready)
        for name in ready:
            del remaining[name]
    return waves


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle of the graph (as a closed path), or [] if there is none."""
    graph = {n: list(d) for n, d in deps.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def with_dependencies(deps: Mapping[str, Iterable[str]], names: Iterable[str]) -> set[str]:
    """The named components plus everything they transitively depend on."""
    out: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in out:
            out.add(name)
            stack.extend(deps.get(name, ()))
    return out


def with_dependents(deps: Mapping[str, Iterable[str]], names: Iterable[str]) -> set[str]:
    """The named components plus everything that transitively depends on them."""
    reverse: dict[str, set[str]] = {}
    for name, ds in deps.items():
        for d in ds:
            reverse.setdefault(d, set()).add(name)
    return with_dependencies(reverse, names)
