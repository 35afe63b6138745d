"""Prometheus text exposition of the registered policies' counters (hand-written, stdlib)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .breaker import State
from .registry import Registry, default_registry

__all__ = ["escape_label", "metric_family", "render_metrics"]


def _summed(policies: list[Any]) -> list[tuple[str, dict[str, int]]]:
    # Twins (sync and async) of one dependency share a name; report them as one.
    totals: dict[str, dict[str, int]] = {}
    for policy in policies:
        into = totals.setdefault(policy.name, {})
        for key, value in policy.counts().items():
            into[key] = into.get(key, 0) + value
    return sorted(totals.items())


def _gauge_summed(policies: list[Any], attr: str) -> list[tuple[dict[str, str], float]]:
    totals: dict[str, float] = {}
    for policy in policies:
        totals[policy.name] = totals.get(policy.name, 0) + getattr(policy, attr)
    return [({"bulkhead": name}, value) for name, value in sorted(totals.items())]


def escape_label(value: str) -> str:
    """Escape a label value as the text format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def metric_family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
) -> str:
    """One family: HELP and TYPE lines, then one line per (labels, value) sample."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {_number(value)}" if inner else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def render_metrics(registry: Registry | None = None) -> str:
    """Every registered policy's metrics in the Prometheus text format (version 0.0.4).

    Reading the counters takes no lock on the calls' path: each counter is an
    ``itertools.count`` read without advancing it.
    """
    reg = registry if registry is not None else default_registry
    breakers = reg.breakers()
    out: list[str] = []
    if breakers:
        counts = [(b.name, b.counts()) for b in breakers]
        out.append(
            metric_family(
                "seawall_breaker_calls_total",
                "counter",
                "Calls through a circuit breaker by outcome (rejected: refused while open).",
                [({"breaker": n, "outcome": k}, v) for n, c in counts for k, v in c.items()],
            )
        )
        out.append(
            metric_family(
                "seawall_breaker_state",
                "gauge",
                "1 for the breaker's current state, 0 for the others.",
                [
                    ({"breaker": b.name, "state": s.value}, float(b.state is s))
                    for b in breakers
                    for s in State
                ],
            )
        )
        out.append(
            metric_family(
                "seawall_breaker_open_seconds_total",
                "counter",
                "Seconds the breaker has spent open or forced open.",
                [({"breaker": b.name}, round(b.open_seconds(), 6)) for b in breakers],
            )
        )
    retries = _summed(reg.all("retry"))
    if retries:
        out.append(
            metric_family(
                "seawall_retry_calls_total",
                "counter",
                "Retried calls by final outcome.",
                [({"retry": n, "outcome": k}, c[k]) for n, c in retries for k in ("success", "failure")],
            )
        )
        out.append(
            metric_family(
                "seawall_retry_retries_total",
                "counter",
                "Retries made (attempts after the first).",
                [({"retry": n}, c["retries"]) for n, c in retries],
            )
        )
        out.append(
            metric_family(
                "seawall_retry_budget_exhausted_total",
                "counter",
                "Retries refused because the retry budget was empty.",
                [({"retry": n}, c["budget_exhausted"]) for n, c in retries],
            )
        )
    bulkheads = reg.all("bulkhead")
    if bulkheads:
        out.append(
            metric_family(
                "seawall_bulkhead_calls_total",
                "counter",
                "Calls admitted or rejected by a bulkhead.",
                [({"bulkhead": n, "outcome": k}, v) for n, c in _summed(bulkheads) for k, v in c.items()],
            )
        )
        out.append(
            metric_family(
                "seawall_bulkhead_active",
                "gauge",
                "Calls running inside the bulkhead now.",
                _gauge_summed(bulkheads, "active"),
            )
        )
        out.append(
            metric_family(
                "seawall_bulkhead_waiting",
                "gauge",
                "Calls queued for a bulkhead slot now.",
                _gauge_summed(bulkheads, "waiting"),
            )
        )
    timeouts = _summed(reg.all("timeout"))
    if timeouts:
        out.append(
            metric_family(
                "seawall_timeout_total",
                "counter",
                "Calls that ran out of time.",
                [({"timeout": n}, c["timeouts"]) for n, c in timeouts],
            )
        )
    return "".join(out)
