"""Observability of Seawall itself: structured logs (human or JSON)."""

from __future__ import annotations

from seawall.observe.logging import LogFormat, configure_logging, get_logger

__all__ = ["LogFormat", "configure_logging", "get_logger"]
