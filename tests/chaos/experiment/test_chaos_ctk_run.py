"""Chaos Toolkit experiments with configuration, secrets and probe tolerances, run and imported by the CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaos_helpers import MakeStack

from _helpers import run_cli
from seawall.chaos.experiment import parse_experiment
from seawall.chaos.experiment.activities import run_activity
from seawall.chaos.experiment.model import Activity
from seawall.config import StackConfig

pytestmark = pytest.mark.integration

ENV_SECRET = "env-shh-5b1c"
INLINE_SECRET = "inline-shh-77e0"

TOLERANCE_MODULE = """
import json, pathlib

def at_least(value, minimum, record):
    pathlib.Path(record).write_text(json.dumps(value))
    return int(value["stdout"].split()[0]) >= int(minimum)

def explodes(value):
    raise RuntimeError("no")
"""


def _experiment(record: Path, tolerance_func: str = "at_least") -> dict[str, Any]:
    echo = "echo ${greeting} ${token} ${inline}"
    arguments = {"minimum": "${minimum}", "record": str(record)} if tolerance_func == "at_least" else {}
    return {
        "title": "secrets stay secret",
        "configuration": {
            "greeting": "hello",
            "minimum": {"type": "env", "key": "SW_CTK_MINIMUM", "default": "5"},
        },
        "secrets": {
            "api": {"token": {"type": "env", "key": "SW_CTK_TOKEN"}, "inline": INLINE_SECRET},
        },
        "steady-state-hypothesis": {
            "title": "answers",
            "probes": [
                {
                    "type": "probe",
                    "name": "greets",
                    "provider": {"type": "process", "path": "sh", "arguments": ["-c", echo]},
                    # judged on the real output: the secret is there, only the record masks it
                    "tolerance": {
                        "type": "regex",
                        "pattern": "^${greeting} ${token} ${inline}$",
                        "target": "stdout",
                    },
                },
                {
                    "type": "probe",
                    "name": "enough",
                    "provider": {"type": "process", "path": "echo", "arguments": ["7"]},
                    "tolerance": {
                        "type": "probe",
                        "name": "at least the minimum",
                        "provider": {
                            "type": "python",
                            "module": "ctk_tolerances",
                            "func": tolerance_func,
                            "arguments": arguments,
                        },
                    },
                },
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "uses the token",
                "provider": {
                    "type": "process",
                    "path": "sh",
                    "arguments": ["-c", 'test "$0" = "$SW_CTK_TOKEN"', "${token}"],
                },
            }
        ],
    }


def _setup(make_stack: MakeStack, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    stack = make_stack({"idle": {"command": ["sleep", "1"]}})
    assert stack.source is not None
    (tmp_path / "ctk_tolerances.py").write_text(TOLERANCE_MODULE)
    env = {
        **os.environ,
        "SW_CTK_TOKEN": ENV_SECRET,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    env.pop("SW_CTK_MINIMUM", None)
    return stack.source, env


def test_ctk_run_resolves_configuration_and_secrets_and_never_shows_a_secret(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """configuration and secrets substituted as chaoslib does; journal and output mask secret values."""
    config, env = _setup(make_stack, tmp_path)
    record = tmp_path / "value.json"
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(_experiment(record)))
    journal = tmp_path / "journal.json"
    done = run_cli(tmp_path, "-f", str(config), "chaos", "run", str(exp), "--journal", str(journal), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    text = journal.read_text()
    for secret in (ENV_SECRET, INLINE_SECRET):
        assert secret not in text
        assert secret not in done.stdout + done.stderr
    doc = json.loads(text)
    greets = doc["steady_states"]["before"]["probes"][0]
    assert greets["output"]["stdout"] == "hello *** ***\n"
    assert greets["activity"]["provider"]["arguments"][1] == "echo hello ${SW_CTK_TOKEN} ${inline}"
    assert doc["run"][0]["status"] == "succeeded"  # the action got the real token
    # the tolerance probe was given the probe's output as `value`
    assert json.loads(record.read_text())["stdout"] == "7\n"


@pytest.mark.parametrize(("minimum", "func"), [("10", "at_least"), ("5", "explodes")])
def test_ctk_probe_tolerance_that_fails_or_raises_breaks_the_steady_state(
    make_stack: MakeStack, tmp_path: Path, minimum: str, func: str
) -> None:
    """A python tolerance probe returning False, or raising, is a tolerance not met: deviated (10)."""
    config, env = _setup(make_stack, tmp_path)
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(_experiment(tmp_path / "value.json", func)))
    done = run_cli(
        tmp_path,
        "-f",
        str(config),
        "chaos",
        "run",
        str(exp),
        "--json",
        env={**env, "SW_CTK_MINIMUM": minimum},
    )
    assert done.returncode == 10, done.stdout + done.stderr
    before = json.loads(done.stdout)["steady_states"]["before"]["probes"]
    assert [p["tolerance_met"] for p in before] == [True, False]


def test_ctk_run_with_a_missing_variable_exits_2_naming_it(make_stack: MakeStack, tmp_path: Path) -> None:
    config, env = _setup(make_stack, tmp_path)
    env.pop("SW_CTK_TOKEN")
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(_experiment(tmp_path / "v.json")))
    done = run_cli(tmp_path, "-f", str(config), "chaos", "run", str(exp), env=env)
    assert done.returncode == 2
    assert "secret api.token reads the environment variable SW_CTK_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctk_import_warns_on_what_it_does_not_keep_and_copies_no_secret(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """chaos import: ${VAR} references, warnings on stderr, a valid document; controls kept."""
    config, env = _setup(make_stack, tmp_path)
    env.pop("SW_CTK_TOKEN")  # an import does not need the variables; where it runs does
    doc = {**_experiment(tmp_path / "v.json"), "extensions": [{"name": "x"}]}
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(doc))
    out = tmp_path / "converted.yaml"
    done = run_cli(tmp_path, "-f", str(config), "chaos", "import", str(exp), "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "warning: secret api.inline is written in the experiment: not copied" in done.stderr
    assert "warning: extensions are not converted" in done.stderr
    converted = out.read_text()
    assert INLINE_SECRET not in converted
    assert "${SW_CTK_TOKEN}" in converted
    assert "${SW_CTK_MINIMUM:-5}" in converted
    parse_experiment(yaml.safe_load(converted), check_env=False)

    control = {"name": "log", "provider": {"type": "python", "module": "m", "secrets": ["api"]}}
    exp.write_text(json.dumps({**doc, "controls": [control]}))
    done = run_cli(tmp_path, "-f", str(config), "chaos", "import", str(exp), env=env)
    assert done.returncode == 0, done.stderr
    assert "the experiment controls[0] (log): keys not converted: provider.secrets" in done.stderr
    imported = yaml.safe_load(done.stdout)
    assert imported["controls"] == [{"name": "log", "provider": {"type": "python", "module": "m"}}]
    # the controls get the secrets as references, resolved only where it runs
    assert imported["secrets"] == {"api": {"token": "${SW_CTK_TOKEN}", "inline": "${inline}"}}
    assert INLINE_SECRET not in done.stdout


def _probe(tolerance: dict[str, Any]) -> Activity:
    provider = {"type": "process", "path": sys.executable, "arguments": ["-c", "print(3)"]}
    return Activity.model_validate({"name": "p", "provider": provider, "tolerance": tolerance})


def test_process_tolerance_probes_pass_when_they_complete_as_in_chaostoolkit(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """chaoslib runs a process tolerance and passes on any completed run; a timeout fails it."""
    stack: StackConfig = make_stack({"idle": {"command": ["sleep", "1"]}})
    seen = tmp_path / "seen"
    script = f"import sys, pathlib; pathlib.Path({str(seen)!r}).write_text(sys.argv[-1]); sys.exit(3)"
    completes = {
        "type": "probe",
        "provider": {"type": "process", "path": sys.executable, "arguments": {"-c": script}},
    }
    result = run_activity(_probe(completes), stack)
    assert result.tolerance_met is True
    assert seen.read_text().startswith("{'status': 0")  # given the probe's value
    hangs = {
        "type": "probe",
        "provider": {"type": "process", "path": "sh", "arguments": {"-c": "sleep 5"}, "timeout": 0.3},
    }
    assert run_activity(_probe(hangs), stack).tolerance_met is False
