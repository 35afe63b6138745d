"""Prometheus text exposition of the proxy's counters: bytes per direction, connections, active faults."""

from __future__ import annotations

from collections.abc import Sequence

from seawall.chaos.proxy.server import ProxyStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_FAMILIES = (
    ("seawall_proxy_bytes_total", "counter", "Bytes forwarded, by direction (upstream: client to server)."),
    ("seawall_proxy_connections_total", "counter", "Client connections accepted."),
    ("seawall_proxy_connections_active", "gauge", "Client connections open now."),
    ("seawall_proxy_faults_active", "gauge", "Faults in force (toxics, plus a disabled proxy)."),
    ("seawall_proxy_faults_expired_total", "counter", "Faults removed by their time-to-live."),
    ("seawall_proxy_enabled", "gauge", "1 when the proxy is enabled."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(stats: Sequence[ProxyStats]) -> str:
    """The metrics of every proxy in Prometheus text format 0.0.4."""
    samples: dict[str, list[str]] = {name: [] for name, _, _ in _FAMILIES}
    for s in stats:
        proxy = f'proxy="{_label(s.name)}"'
        samples["seawall_proxy_bytes_total"] += [
            f'{{{proxy},direction="upstream"}} {s.bytes_upstream}',
            f'{{{proxy},direction="downstream"}} {s.bytes_downstream}',
        ]
        samples["seawall_proxy_connections_total"].append(f"{{{proxy}}} {s.connections_total}")
        samples["seawall_proxy_connections_active"].append(f"{{{proxy}}} {s.connections_active}")
        samples["seawall_proxy_faults_active"].append(f"{{{proxy}}} {s.faults_active}")
        samples["seawall_proxy_faults_expired_total"].append(f"{{{proxy}}} {s.faults_expired}")
        samples["seawall_proxy_enabled"].append(f"{{{proxy}}} {int(s.enabled)}")
    lines = []
    for name, kind, help_text in _FAMILIES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{sample}" for sample in samples[name]]
    return "\n".join(lines) + "\n"


__all__ = ["CONTENT_TYPE", "render"]
