"""The built-in demo stack: two small HTTP services that need nothing beyond the package."""

from __future__ import annotations

from seawall.demo.stack import demo_config, free_port, write_demo

__all__ = ["demo_config", "free_port", "write_demo"]
