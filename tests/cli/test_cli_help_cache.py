"""The shipped `seawall --help` is exactly what Typer renders, and is what the command prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seawall.cli.helpcache import HELP_FILE, cached_help, render_help


def test_cached_help_matches_the_live_rendering() -> None:
    assert Path(HELP_FILE).read_text(encoding="utf-8") == render_help(), (
        "the top-level commands or options changed: run `make help-cache`"
    )


def test_console_script_prints_the_cached_help(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("seawall")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([str(script), "--help"], check=False, capture_output=True, text=True, env=env)
    assert proc.returncode == 0
    assert proc.stdout == render_help()


@pytest.mark.parametrize("argv", [["status", "--help"], ["--help", "x"], [], ["--version"]])
def test_only_the_bare_help_is_cached(argv: list[str]) -> None:
    assert cached_help(argv) is None


def test_narrow_terminals_get_the_live_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert cached_help(["--help"]) is None
    monkeypatch.setenv("COLUMNS", "120")
    assert cached_help(["-h"]) == Path(HELP_FILE).read_text(encoding="utf-8")
