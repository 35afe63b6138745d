"""Ready-made experiments for drills and the demo: a latency fault on one edge, measured end to end."""

from __future__ import annotations

from seawall.chaos.edges import parse_edge
from seawall.chaos.experiment.model import Experiment


def latency_experiment(
    edge: str,
    probes: list[str],
    ms: int = 800,
    duration: float = 3.0,
    *,
    recover_within: float = 30.0,
    proxy_api: str | None = None,
    probe_interval: float = 0.2,
    sustained: int = 3,
) -> Experiment:
    """``ms`` of latency on ``edge`` for ``duration`` seconds, judged by stack probes (``web.ready``).

    Run it with ``run_experiment(latency_experiment("web->catalog", ["web.ready"]), stack)``: the
    probes should breach while the fault acts (status ``deviated``), and ``record.faults[0].recoveries``
    holds time to impact, removal and sustained recovery per probe. Without ``proxy_api`` the faults
    go to the stack's own proxy (the local supervisor's), else to the default API.
    """
    _, callee = parse_edge(edge)
    return Experiment.model_validate(
        {
            "title": f"{ms} ms latency on {edge}",
            "tags": ["latency", "preset"],
            "targets": [edge, callee],
            "steady_state": {"probes": [{"probe": p} for p in probes]},
            "method": [{"fault": {"kind": "latency", "edge": edge, "ms": ms, "duration": duration}}],
            "expect": {"recover_within": recover_within},
            "runtime": {
                "probe_interval": probe_interval,
                "sustained": sustained,
                **({"proxy_api": proxy_api} if proxy_api else {}),
            },
        }
    )


__all__ = ["latency_experiment"]
