"""The CLI's contract for expected failures: one readable message, a documented exit code, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from _helpers import run_cli
from seawall.cli.__main__ import main


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(cwd, *argv, timeout=60)


def test_help_lists_the_operator_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("up", "down", "status", "health", "doctor", "smoke", "verify", "storage", "logs", "demo"):
        assert command in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stack: s\ncomponents:\n  a: {comand: [x]}\n", "seawall.yaml:3: components.a.comand: unknown key"),
        ("stack: s\ncomponents:\n  a: [oops\n", "invalid YAML"),
        ("stack: s\ncomponents:\n  a: {command: ['${NOPE_SEAWALL_TEST}']}\n", "NOPE_SEAWALL_TEST is not set"),
        ("stack: s\ncomponents:\n  a: {depends_on: [b]}\n  b: {depends_on: [a]}\n", "dependency cycle"),
    ],
)
def test_bad_config_exits_2_with_one_message(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "seawall.yaml").write_text(text)
    proc = run(["validate"], tmp_path)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_missing_stack_file_exits_2(tmp_path: Path) -> None:
    proc = run(["status"], tmp_path)
    assert proc.returncode == 2
    assert "no seawall.yaml" in proc.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = run(["explode"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_valid_file_validates_with_json(tmp_path: Path) -> None:
    (tmp_path / "seawall.yaml").write_text("stack: s\ncomponents:\n  a: {command: [sleep, '1']}\n")
    proc = run(["validate", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"components": [\n    "a"\n  ]' in proc.stdout


def test_schema_is_json(tmp_path: Path) -> None:
    import json

    proc = run(["schema"], tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["title"] == "seawall.yaml"


def test_file_option_points_at_another_directory(tmp_path: Path) -> None:
    stack_dir = tmp_path / "elsewhere"
    stack_dir.mkdir()
    (stack_dir / "seawall.yaml").write_text("stack: other\n")
    proc = run(["-f", str(stack_dir / "seawall.yaml"), "validate"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "stack other" in proc.stdout
