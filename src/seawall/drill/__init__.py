"""Drills: disaster-recovery and resilience exercises that measure RTO, RPO and MTTR."""

from __future__ import annotations

from seawall.drill.demo import DemoReport, Step, measure_recovery, run_demo

__all__ = ["DemoReport", "Step", "measure_recovery", "run_demo"]
