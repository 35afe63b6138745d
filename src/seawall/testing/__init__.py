"""seawall.testing: fakes for tests of code that uses Seawall's service library."""

from __future__ import annotations

from .clock import FakeClock, NoWaitClock, test_mode, use_clock

__all__ = ["FakeClock", "NoWaitClock", "test_mode", "use_clock"]
