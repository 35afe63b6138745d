"""`seawall chaos` commands end to end: validate, plan, import, run with outputs, list, show, restore."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from chaos_helpers import MakeStack, http_server, write_experiment

from _helpers import free_port
from seawall.cli.app import build_app
from seawall.cli.cmd_chaos import chaos_app
from seawall.cli.errors import run_guarded

pytestmark = pytest.mark.integration


def _seawall(config: Path, *argv: str) -> int:
    app = build_app()
    app.add_typer(chaos_app, name="chaos")
    return run_guarded(app, ["-f", str(config), *argv])


def test_chaos_cli_commands(
    make_stack: MakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack({"catalog": http_server(free_port())})
    assert stack.source is not None
    config = stack.source
    flag = tmp_path / "flag"
    flag.write_text("x")
    exp = write_experiment(
        tmp_path / "exp.yaml",
        {
            "title": "quick",
            "targets": ["host"],
            "steady_state": {"probes": [{"name": "flag", "check": {"command": ["test", "-f", str(flag)]}}]},
            "method": [{"fault": {"kind": "cpu", "cores": 1, "duration": "300ms"}}],
            "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "5s"},
            "seed": 11,
        },
    )
    assert _seawall(config, "chaos", "validate", str(exp)) == 0
    capsys.readouterr()
    assert _seawall(config, "chaos", "plan", str(exp), "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["blast_radius"] == ["host"]
    assert plan["faults"][0]["inverse"]["kind"] == "kill_hogs"

    junit, journal, md = tmp_path / "j.xml", tmp_path / "journal.json", tmp_path / "run.md"
    code = _seawall(config, "chaos", "run", str(exp), "--junit", str(junit), "--journal", str(journal),
                    "--markdown", str(md))  # fmt: skip
    assert code == 0, capsys.readouterr()
    doc = json.loads(journal.read_text())
    assert doc["seawall"]["status"] == "passed"
    assert doc["seawall"]["seed"] == 11
    assert ET.fromstring(junit.read_text()).get("failures") == "0"
    assert "Status:** `passed`" in md.read_text()
    capsys.readouterr()

    assert _seawall(config, "chaos", "list", "--json") == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["id"] == doc["seawall"]["run_id"]
    assert _seawall(config, "chaos", "show", runs[0]["id"], "--json") == 0
    assert json.loads(capsys.readouterr().out)["seawall"]["run_id"] == runs[0]["id"]
    assert _seawall(config, "chaos", "restore", "--json") == 0
    assert json.loads(capsys.readouterr().out)["restored"] == []

    ctk = tmp_path / "ctk.json"
    action = {"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}
    ctk.write_text(json.dumps({"title": "c", "method": [action]}))
    assert _seawall(config, "chaos", "import", str(ctk)) == 0
    assert yaml.safe_load(capsys.readouterr().out)["method"][0]["provider"]["path"] == "true"
    assert _seawall(config, "chaos", "validate", str(tmp_path / "missing.yaml")) == 2
