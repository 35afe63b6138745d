"""Operating a stack: doctor, up/down gated on readiness, health, smoke checks, storage."""

from __future__ import annotations

from seawall.ops.destroy import DestroyPlan, DestroyResult, destroy, plan_destroy
from seawall.ops.doctor import DoctorReport, run_doctor
from seawall.ops.doctor_checks import Check
from seawall.ops.health import ComponentHealth, HealthReport, check_health
from seawall.ops.lifecycle import UpReport, check_names, down, up, wait_ready
from seawall.ops.smoke import SmokeReport, SmokeResult, run_smoke
from seawall.ops.storage import RepositoryUsage, StorageReport, measure_repository, measure_storage

__all__ = [
    "Check",
    "ComponentHealth",
    "DestroyPlan",
    "DestroyResult",
    "DoctorReport",
    "HealthReport",
    "RepositoryUsage",
    "SmokeReport",
    "SmokeResult",
    "StorageReport",
    "UpReport",
    "check_health",
    "check_names",
    "destroy",
    "down",
    "measure_repository",
    "measure_storage",
    "plan_destroy",
    "run_doctor",
    "run_smoke",
    "up",
    "wait_ready",
]
