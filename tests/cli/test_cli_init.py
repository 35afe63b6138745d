"""`seawall init --from` through the CLI: writes a valid file, keeps secrets out, refuses to clobber."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from _helpers import run_cli

FIXTURE = Path(__file__).parent.parent / "config" / "compose" / "web_pg_redis"


def seawall(
    cwd: Path, *argv: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return run_cli(cwd, *argv, timeout=60, env={**os.environ, **(env_extra or {})})


def test_init_from_compose_writes_a_valid_stack_without_secrets(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    proc = seawall(tmp_path, "init", "--from", "compose.yaml")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "seawall.yaml").read_text()
    assert "r3dis-pass-123" not in text
    assert "dj-insecure-5f2a9c77e1" not in text
    assert "kind: postgres" in text
    # the variables the file needs are named, and once set the file validates
    assert "set these in" in proc.stderr
    needed = next(line for line in text.splitlines() if "Set these in .env" in line)
    names = needed.rsplit(":", 1)[1].replace(" ", "").split(",")
    assert seawall(tmp_path, "validate").returncode == 2  # unset variables are a config error
    check = seawall(tmp_path, "validate", env_extra=dict.fromkeys(names, "x"))
    assert check.returncode == 0, check.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "seawall.yaml").write_text("stack: mine\n")
    proc = seawall(tmp_path, "init")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr
    assert (tmp_path / "seawall.yaml").read_text() == "stack: mine\n"


def test_init_from_a_missing_compose_file_exits_2(tmp_path: Path) -> None:
    proc = seawall(tmp_path, "init", "--from", "nope.yml")
    assert proc.returncode == 2
    assert "nope.yml" in proc.stderr
    assert not (tmp_path / "seawall.yaml").exists()
