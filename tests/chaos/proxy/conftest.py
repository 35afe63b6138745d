"""The ``harness`` fixture of the fault proxy tests (see proxy_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proxy_helpers import Harness


@pytest.fixture(params=["asyncio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A harness on asyncio's loop; tests parametrized with "uvloop" run on uvloop (if installed)."""
    loop = None
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        loop = uvloop.new_event_loop()
    h = Harness(loop)
    try:
        yield h
    finally:
        h.close()
