"""Chaos Toolkit controls: hooks called in chaostoolkit-lib's order and with its arguments, never fatal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack

from _helpers import run_cli, wait_for
from seawall.chaos.experiment import RunStatus, build_journal, parse_experiment, run_experiment
from seawall.chaos.experiment.chaostoolkit import convert_chaostoolkit
from seawall.chaos.experiment.controls import applicable
from seawall.chaos.experiment.model import Control
from seawall.config import StackConfig
from seawall.errors import UsageError

SECRET = "ctl-shh-4d2a"

# Records every hook call (name, what it was given) as a JSON line; `fail_on` / `stop_on` make the
# named hook raise an error / chaostoolkit's InterruptExecution for the activity named `target`.
RECORDER = """
import json

class InterruptExecution(Exception):
    pass

LOG = None

def _note(hook, context=None, **given):
    entry = {"hook": hook, **given}
    if isinstance(context, dict):
        entry["context"] = context.get("name") or context.get("title")
    with open(LOG, "a") as out:
        out.write(json.dumps(entry, default=str) + "\\n")

def _maybe(hook, context, fail_on, stop_on, target):
    if (context or {}).get("name") != target:
        return
    if hook == fail_on:
        raise RuntimeError("the control broke")
    if hook == stop_on:
        raise InterruptExecution("stop right there")

def configure_control(configuration=None, secrets=None, settings=None, experiment=None, log="", **kw):
    global LOG
    LOG = log
    _note("configure", configuration=configuration, secrets=secrets, title=experiment["title"])

def cleanup_control():
    _note("cleanup")

def before_experiment_control(context, configuration=None, secrets=None, **kw):
    _note("before_experiment", context, args=sorted(kw))

def after_experiment_control(context, state, **kw):
    _note("after_experiment", context, status=state["status"])

def before_hypothesis_control(context, **kw):
    _note("before_hypothesis", context)

def after_hypothesis_control(context, state, **kw):
    _note("after_hypothesis", context, met=state["steady_state_met"])

def before_method_control(context, **kw):
    _note("before_method", context)

def after_method_control(context, state, **kw):
    _note("after_method", context, runs=state and len(state))

def before_rollback_control(context, **kw):
    _note("before_rollback", context)

def after_rollback_control(context, state, **kw):
    _note("after_rollback", context, runs=state and len(state))

def before_activity_control(context, fail_on="", stop_on="", target="", **kw):
    _note("before_activity", context)
    _maybe("before_activity", context, fail_on, stop_on, target)

def after_activity_control(context, state, fail_on="", stop_on="", target="", **kw):
    _note("after_activity", context, status=state and state["status"])
    _maybe("after_activity", context, fail_on, stop_on, target)
"""


# an action that waits (5 s at most) for the fill's hog to create its file, then writes what it saw
LOOK = """
import os, pathlib, time
deadline = time.monotonic() + 5
while not os.listdir({fill!r}) and time.monotonic() < deadline:
    time.sleep(0.05)
pathlib.Path({seen!r}).write_text(str(os.listdir({fill!r})))
"""


def _module(directory: Path) -> str:
    """The recorder written as a module of its own name (imported once per process)."""
    name = f"ctl_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(RECORDER)
    return name


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _order(log: Path) -> list[str]:
    return [f"{c['hook']}({c['context']})" if c.get("context") else c["hook"] for c in _calls(log)]


def _python(name: str, code: str) -> dict[str, Any]:
    provider = {"type": "process", "path": sys.executable, "arguments": ["-c", code]}
    return {"type": "action", "name": name, "provider": provider}


def _ctk_experiment(module: str, log: Path) -> dict[str, Any]:
    return {
        "title": "controlled",
        "configuration": {"zone": {"type": "env", "key": "SW_CTL_ZONE", "default": "eu"}, "retries": 3},
        "secrets": {"api": {"token": {"type": "env", "key": "SW_CTL_TOKEN"}}},
        "controls": [
            {
                "name": "recorder",
                "provider": {"type": "python", "module": module, "arguments": {"log": str(log)}},
            }
        ],
        "steady-state-hypothesis": {
            "title": "fine",
            "probes": [{**_python("p", "pass"), "type": "probe", "tolerance": 0}],
        },
        "method": [_python("a1", "pass"), _python("a2", "print('two')")],
        "rollbacks": [_python("r1", "pass")],
        "runtime": {"hypothesis": {"strategy": "default", "freq": 0.1}},
    }


EXPECTED = [
    "configure",
    "before_experiment(controlled)",
    "before_hypothesis(fine)",
    "before_activity(p)",
    "after_activity(p)",
    "after_hypothesis(fine)",
    "before_method(controlled)",
    "before_activity(a1)",
    "after_activity(a1)",
    "before_activity(a2)",
    "after_activity(a2)",
    "after_method(controlled)",
    "before_hypothesis(fine)",
    "before_activity(p)",
    "after_activity(p)",
    "after_hypothesis(fine)",
    "before_rollback(controlled)",
    "before_activity(r1)",
    "after_activity(r1)",
    "after_rollback(controlled)",
    "after_experiment(controlled)",
    "cleanup",
]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "SW_CTL_TOKEN": SECRET}
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return env


def _stack(make_stack: MakeStack) -> Path:
    stack = make_stack({"idle": {"command": ["sleep", "1"]}})
    assert stack.source is not None
    return stack.source


@pytest.mark.integration
def test_ctk_experiment_with_controls_runs_every_hook_in_chaostoolkit_order(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """`chaos run` on a CTK file: configure, before/after each level and activity, cleanup; secrets given."""
    config = _stack(make_stack)
    log = tmp_path / "hooks.jsonl"
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(_ctk_experiment(_module(tmp_path), log)))
    journal = tmp_path / "journal.json"
    done = run_cli(
        tmp_path, "-f", str(config), "chaos", "run", str(exp), "--journal", str(journal), env=_env(tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _order(log) == EXPECTED
    calls = _calls(log)
    # configuration and secrets resolved as chaostoolkit-lib gives them; typed literals keep their type
    assert calls[0]["configuration"] == {"zone": "eu", "retries": 3}
    assert calls[0]["secrets"] == {"api": {"token": SECRET}}
    assert calls[0]["title"] == "controlled"
    assert calls[1]["args"] == ["log"]  # only what the signature names, plus the control's arguments
    assert calls[-2]["status"] == "completed"  # after_experiment gets the journal
    assert {"hook": "after_method", "context": "controlled", "runs": 2} in calls
    text = journal.read_text()
    assert SECRET not in text
    assert SECRET not in done.stdout + done.stderr
    recorded = json.loads(text)["seawall"]["controls"]
    assert [e["hook"] for e in recorded] == [
        "configure_control" if h == "configure" else "cleanup_control" if h == "cleanup" else
        f"{h.split('(')[0]}_control"
        for h in EXPECTED
    ]  # fmt: skip
    assert all(e["status"] == "succeeded" and e["control"] == "recorder" for e in recorded)


def _seawall_doc(module: str, log: Path, method: list[dict[str, Any]], **arguments: str) -> dict[str, Any]:
    return {
        "title": "seawall format",
        "steady_state": {"title": "fine", "probes": []},
        "controls": [
            {"name": "recorder", "provider": {"module": module, "arguments": {"log": str(log), **arguments}}}
        ],
        "method": method,
        "rollbacks": [_python("r1", "pass")],
        "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "5s"},
    }


def _run(doc: dict[str, Any], stack: StackConfig) -> Any:
    return run_experiment(parse_experiment(doc), stack, handle_signals=False)


@pytest.mark.integration
@pytest.mark.parametrize("hook", ["before_activity", "after_activity"])
def test_a_control_that_raises_is_recorded_and_the_run_goes_on(
    make_stack: MakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: str
) -> None:
    """As in chaostoolkit-lib: a failing hook is logged (and journalled as failed); nothing else changes."""
    stack = make_stack({"idle": {"command": ["sleep", "1"]}})
    monkeypatch.syspath_prepend(str(tmp_path))
    log = tmp_path / "hooks.jsonl"
    method = [_python("a1", "pass"), _python("a2", "pass")]
    record = _run(_seawall_doc(_module(tmp_path), log, method, fail_on=hook, target="a1"), stack)
    assert record.status is RunStatus.PASSED, record.notes
    assert [r["activity"]["name"] for r in record.run] == ["a1", "a2"]
    failed = [e for e in record.controls if e["status"] == "failed"]
    assert [(e["hook"], e["context"]) for e in failed] == [(f"{hook}_control", "a1")]
    assert "the control broke" in failed[0]["error"]
    assert _order(log)[-2:] == ["after_experiment(seawall format)", "cleanup"]


@pytest.mark.integration
def test_interrupt_execution_stops_the_method_and_the_fault_inverse_still_runs(
    make_stack: MakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InterruptExecution (by class name) aborts: interrupted, the fill removed, rollbacks and cleanup run."""
    stack = make_stack({"idle": {"command": ["sleep", "1"]}})
    monkeypatch.syspath_prepend(str(tmp_path))
    fill = tmp_path / "fill"
    fill.mkdir()
    log = tmp_path / "hooks.jsonl"
    seen = tmp_path / "filled"
    method = [
        {"fault": {"kind": "disk_fill", "path": str(fill), "mib": 1}, "background": True},
        _python("look", LOOK.format(fill=str(fill), seen=str(seen))),
        _python("stop", "pass"),
        _python("never", "pass"),
    ]
    doc = {**_seawall_doc(_module(tmp_path), log, method, stop_on="before_activity", target="stop")}
    doc["targets"] = ["host"]
    record = _run(doc, stack)
    assert record.status is RunStatus.INTERRUPTED
    assert record.exit_code == 130
    assert any(
        "interrupted by control recorder (before_activity_control): stop right there" in n
        for n in record.notes
    )
    assert seen.read_text() != "[]"  # the fault was in place while the method ran
    assert list(fill.iterdir()) == []  # and its inverse ran
    assert [r["activity"]["name"] for r in record.run] == ["look"]  # neither `stop` nor `never` ran
    assert [r.activity.name for r in record.rollbacks] == ["r1"]
    order = _order(log)
    assert "before_activity(never)" not in order
    stop = order.index("before_activity(stop)")
    assert order[stop + 1 : stop + 3] == ["after_activity(stop)", "after_method(seawall format)"]
    assert order[-5:] == [
        "before_activity(r1)", "after_activity(r1)", "after_rollback(seawall format)",
        "after_experiment(seawall format)", "cleanup",
    ]  # fmt: skip
    journal = build_journal(record)
    assert journal["status"] == "interrupted"
    assert journal["seawall"]["faults"][0]["removed_at"] is not None
    interrupted = [e for e in journal["seawall"]["controls"] if e["status"] == "interrupted"]
    assert [(e["hook"], e["context"]) for e in interrupted] == [("before_activity_control", "stop")]


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_still_run_the_after_hooks_and_cleanup(
    make_stack: MakeStack, tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal while an action runs: interrupted (130), then after_activity ... after_experiment, cleanup."""
    config = _stack(make_stack)
    log = tmp_path / "hooks.jsonl"
    doc = _ctk_experiment(_module(tmp_path), log)
    doc["method"] = [_python("slow", "import time; time.sleep(30)")]
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(doc))
    cmd = [sys.executable, "-m", "seawall.cli", "-f", str(config), "chaos", "run", str(exp)]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # pytest started in the background by a non-interactive shell (as CI does) inherits SIGINT
        # ignored, and so would seawall, which keeps it ignored as a background job should
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        wait_for(lambda: log.exists() and "before_activity(slow)" in _order(log), timeout=30)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, out + err
    order = _order(log)
    slow = order.index("before_activity(slow)")
    assert order[slow + 1 :] == [
        "after_activity(slow)", "after_method(controlled)",
        "before_rollback(controlled)", "before_activity(r1)", "after_activity(r1)",
        "after_rollback(controlled)",
        "after_experiment(controlled)", "cleanup",
    ]  # fmt: skip
    assert [c["status"] for c in _calls(log) if c["hook"] == "after_experiment"] == ["interrupted"]


@pytest.mark.integration
def test_validate_names_a_control_that_does_not_import_or_has_no_hook(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """`chaos validate` (and `run`) exit 2 with the control and module named; a good one validates."""
    config = _stack(make_stack)
    env = _env(tmp_path)
    (tmp_path / "no_hooks_here.py").write_text("def helper():\n    return 1\n")
    module = _module(tmp_path)
    exp = tmp_path / "exp.json"
    for bad, message in [
        ("missing_ctl_module", "control 'recorder': cannot import missing_ctl_module"),
        ("no_hooks_here", "control 'recorder': no_hooks_here defines none of the control hooks"),
    ]:
        doc = _ctk_experiment(bad, tmp_path / "log")
        exp.write_text(json.dumps(doc))
        for command in ("validate", "run"):
            done = run_cli(tmp_path, "-f", str(config), "chaos", command, str(exp), env=env)
            assert done.returncode == 2, done.stdout + done.stderr
            assert message in done.stderr
            assert "Traceback" not in done.stderr
    exp.write_text(json.dumps(_ctk_experiment(module, tmp_path / "log")))
    done = run_cli(tmp_path, "-f", str(config), "chaos", "validate", str(exp), env=env)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "log").exists()  # validating imports the module, calls no hook


def _control(name: str, **extra: Any) -> Control:
    return Control.model_validate({"name": name, "provider": {"module": "m"}, **extra})


def test_which_controls_apply_at_each_level_as_in_chaostoolkit_lib() -> None:
    """Experiment: all its own; method/rollback: automatic ones; activity: automatic + own (own wins)."""
    auto, manual, again = (
        _control("auto"),
        _control("manual", automatic=False),
        _control("auto", scope="after"),
    )
    own = _control("own")
    top = [auto, manual]
    assert applicable("experiment", top, []) == [auto, manual]
    assert applicable("method", top, []) == [auto]
    assert applicable("rollback", top, [own]) == [auto]
    assert applicable("activity", top, []) == [auto]
    assert applicable("activity", top, [own]) == [auto, own]
    assert applicable("hypothesis", top, [again]) == [again]  # declared again lower down: that one


def test_import_resolves_control_references_and_refuses_unknown_ones() -> None:
    """`{ref: name}` at a lower level becomes a copy of the experiment's control of that name."""
    rec = {"name": "rec", "automatic": False, "provider": {"type": "python", "module": "m"}}
    doc = _ctk_experiment("m", Path("log"))
    doc["controls"] = [rec]
    doc["method"][0]["controls"] = [{"ref": "rec"}]
    out = convert_chaostoolkit(doc).document
    assert out["method"][0]["controls"] == [{"name": "rec", "provider": rec["provider"], "automatic": False}]
    parse_experiment(out, check_env=False)
    doc["method"][0]["controls"] = [{"ref": "gone"}]
    with pytest.raises(
        UsageError, match=r"method\[0\] \(a1\) controls\[0\]: reference to unknown control 'gone'"
    ):
        convert_chaostoolkit(doc)
