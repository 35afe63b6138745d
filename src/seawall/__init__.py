"""Seawall: operational resilience for self-hosted multi-service stacks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
