"""Fixtures of the chaos experiment tests: tiny stacks in tmp_path on the local runtime, always torn down."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from chaos_helpers import MakeStack

from seawall.config import StackConfig, load_stack


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
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            ours = ("seawall.runtime._daemon" in cmdline and str(config) in cmdline) or (
                proc.environ().get("SEAWALL_TEST_TAG") == tag
            )
            if ours and proc.pid != os.getpid():
                proc.kill()
        except psutil.Error:
            continue


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[MakeStack]:
    """Write seawall.yaml into tmp_path and load it; everything started is stopped afterwards."""
    tag = uuid.uuid4().hex
    made: list[tuple[Path, StackConfig]] = []

    def make(components: dict[str, dict[str, Any]]) -> StackConfig:
        for spec in components.values():
            spec.setdefault("env", {})["SEAWALL_TEST_TAG"] = tag
        config = tmp_path / "seawall.yaml"
        data = {"stack": f"c{tag[:8]}", "state": {"path": "s"}, "components": components}
        config.write_text(yaml.safe_dump(data))
        stack = load_stack(config)
        made.append((config, stack))
        return stack

    yield make
    for config, stack in made:
        _kill_leftovers(tag, config, stack)
