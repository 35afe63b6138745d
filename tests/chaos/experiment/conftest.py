"""Fixtures of the chaos experiment tests: tiny stacks in tmp_path on the local runtime, always torn down."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack

from _helpers import kill_tagged, write_stack
from seawall.config import StackConfig


def _kill_leftovers(tag: str, config: Path, stack: StackConfig) -> None:
    from seawall.chaos.restore import panic
    from seawall.ops.lifecycle import down
    from seawall.runtime import get_runtime, shutdown

    with contextlib.suppress(Exception):
        panic(stack)  # whatever a test left injected: resumed, hogs ended, fill files removed
    with contextlib.suppress(Exception):
        runtime = get_runtime(stack)
        down(stack, runtime)
        shutdown(stack)
    kill_tagged(tag, config)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[MakeStack]:
    """Write seawall.yaml into tmp_path and load it; everything started is stopped afterwards."""
    tag = uuid.uuid4().hex
    made: list[tuple[Path, StackConfig]] = []

    def make(components: dict[str, dict[str, Any]]) -> StackConfig:
        config, stack = write_stack(tmp_path, f"c{tag[:8]}", components, tag)
        made.append((config, stack))
        return stack

    yield make
    for config, stack in made:
        _kill_leftovers(tag, config, stack)
