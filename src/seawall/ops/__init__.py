"""Operating a stack: doctor, up/down gated on readiness, health, smoke checks, storage."""

from __future__ import annotations

from seawall.ops.doctor import DoctorReport, run_doctor
from seawall.ops.doctor_checks import Check
from seawall.ops.health import ComponentHealth, HealthReport, check_health
from seawall.ops.lifecycle import UpReport, check_names, down, up, wait_ready
from seawall.ops.smoke import SmokeReport, SmokeResult, run_smoke
from seawall.ops.storage import StorageReport, measure_storage

__all__ = [
    "Check",
    "ComponentHealth",
    "DoctorReport",
    "HealthReport",
    "SmokeReport",
    "SmokeResult",
    "StorageReport",
    "UpReport",
    "check_health",
    "check_names",
    "down",
    "measure_storage",
    "run_doctor",
    "run_smoke",
    "up",
    "wait_ready",
]
