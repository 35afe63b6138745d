"""Probes: concurrent, typed checks of components (http, tcp, postgres, redis, mysql, command)."""

from __future__ import annotations

from seawall.probes.jsonpath import check_json, lookup
from seawall.probes.redact import redact, redact_url
from seawall.probes.registry import KINDS, build_check
from seawall.probes.report import HEALTH_JSON_MEDIA_TYPE, health_json, to_samples, worst_status
from seawall.probes.result import Check, ProbeResult, ProbeTarget, Status
from seawall.probes.runner import run_probe, run_probes, run_probes_sync
from seawall.probes.tracker import ProbeTracker

__all__ = [
    "HEALTH_JSON_MEDIA_TYPE",
    "KINDS",
    "Check",
    "ProbeResult",
    "ProbeTarget",
    "ProbeTracker",
    "Status",
    "build_check",
    "check_json",
    "health_json",
    "lookup",
    "redact",
    "redact_url",
    "run_probe",
    "run_probes",
    "run_probes_sync",
    "to_samples",
    "worst_status",
]
