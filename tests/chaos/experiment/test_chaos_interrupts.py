"""Ctrl-C and SIGTERM at the awkward moments of a run, delivered in-process at an exact point."""

from __future__ import annotations

import json
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
import pytest
from chaos_helpers import MakeStack

from seawall.chaos.experiment import RunStatus, parse_experiment, run_experiment
from seawall.chaos.experiment.record import RunRecord

SIGNALS = [signal.SIGINT, signal.SIGTERM]

# hooks that log their calls and, for the activity `target` at hook `on`, send the process `sig`;
# `swallow` makes the hook catch what the signal raises, as a careless control could
CONTROL = """
import json, signal

def _log(log, hook, context):
    with open(log, "a") as out:
        out.write(json.dumps([hook, (context or {}).get("name") or (context or {}).get("title")]) + "\\n")

def _ring(hook, context, on="", target="", sig="SIGINT", swallow=False, **kw):
    if hook != on or (target and (context or {}).get("name") != target):
        return
    try:
        signal.raise_signal(getattr(signal, sig))
        for _ in range(1000):  # the handler runs at one of these jumps, inside the try
            pass
    except BaseException:
        if not swallow:
            raise

def before_activity_control(context, log, **kw):
    _log(log, "before_activity", context)
    _ring("before_activity", context, **kw)

def after_activity_control(context, state, log, **kw):
    _log(log, "after_activity", context)
    _ring("after_activity", context, **kw)

def after_experiment_control(context, state, log, **kw):
    _log(log, "after_experiment", context)
    _ring("after_experiment", context, **kw)

def cleanup_control():
    pass

def ring(sig):
    signal.raise_signal(getattr(signal, sig))
    return "rang"
"""


@pytest.fixture
def outer_handlers() -> Iterator[list[int]]:
    """SIGINT/SIGTERM handlers of the test process that only record: a signal the run let through
    fails the test instead of stopping pytest."""
    escaped: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        escaped.append(signum)

    previous = {s: signal.signal(s, record) for s in SIGNALS}
    try:
        yield escaped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _module(directory: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"irq_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(CONTROL)
    monkeypatch.syspath_prepend(str(directory))
    return name


def _process(name: str, code: str) -> dict[str, Any]:
    provider = {"type": "process", "path": sys.executable, "arguments": ["-c", code]}
    return {"type": "action", "name": name, "provider": provider}


def _doc(module: str, log: Path, method: list[dict[str, Any]], **ring: Any) -> dict[str, Any]:
    rollback = _process("r1", "pass")
    if ring.get("on") == "rollback":
        provider = {"type": "python", "module": module, "func": "ring", "arguments": {"sig": ring["sig"]}}
        rollback = {"type": "action", "name": "r1", "provider": provider}
    return {
        "title": "interrupts",
        "steady_state": {"title": "fine", "probes": []},
        "controls": [{"name": "irq", "provider": {"module": module, "arguments": {"log": str(log), **ring}}}],
        "method": method,
        "rollbacks": [rollback],
        "runtime": {"probe_interval": "100ms", "sustained": 1, "recovery_timeout": "5s"},
    }


def _calls(log: Path) -> list[str]:
    return [f"{h}({c})" for h, c in (json.loads(line) for line in log.read_text().splitlines())]


def _run(doc: dict[str, Any], make_stack: MakeStack) -> RunRecord:
    stack = make_stack({"idle": {"command": ["sleep", "1"]}})
    return run_experiment(parse_experiment(doc), stack)


def _leftovers(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if marker in " ".join(p.cmdline())]


@pytest.mark.integration
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_signal_inside_thread_start_still_kills_the_running_action(
    make_stack: MakeStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outer_handlers: list[int],
    sig: signal.Signals,
) -> None:
    """Between starting the action's thread and watching it: interrupted, and the action killed at once."""
    marker = f"slow-{uuid.uuid4().hex[:8]}"
    slow = _process("slow", f"import time; time.sleep(30)  # {marker}")
    original = threading.Thread.start

    def start_then_signal(self: threading.Thread) -> None:
        original(self)
        # the worker of a foreground activity (Thread keeps its target private)
        if getattr(getattr(self, "_target", None), "__name__", "") == "_activity":
            signal.raise_signal(sig)
            for _ in range(1000):  # the handler runs here: still inside start()
                pass

    monkeypatch.setattr(threading.Thread, "start", start_then_signal)
    record = _run(_doc(_module(tmp_path, monkeypatch), tmp_path / "log", [slow]), make_stack)
    monkeypatch.undo()
    assert record.status is RunStatus.INTERRUPTED, record.notes
    assert f"interrupted by {sig.name}" in record.notes
    # the action was cancelled before the run ended, not left to its 10 s timeout
    assert [r["activity"]["name"] for r in record.run] == ["slow"]
    assert "the run was aborted" in record.run[0]["exception"][0]
    assert _leftovers(marker) == []
    assert outer_handlers == []


@pytest.mark.integration
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize(("on", "swallow"), [("before_activity", True), ("after_activity", False)])
def test_a_signal_in_an_activity_hook_interrupts_even_when_the_hook_swallows_it(
    make_stack: MakeStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outer_handlers: list[int],
    sig: signal.Signals,
    on: str,
    swallow: bool,
) -> None:
    """During a hook of `a1`: `a2` never runs; after hooks, rollbacks and after_experiment still do."""
    log = tmp_path / "log"
    method = [_process("a1", "pass"), _process("a2", "pass")]
    doc = _doc(_module(tmp_path, monkeypatch), log, method, on=on, target="a1", sig=sig.name, swallow=swallow)
    record = _run(doc, make_stack)
    assert record.status is RunStatus.INTERRUPTED, record.notes
    assert f"interrupted by {sig.name}" in record.notes
    assert "a2" not in [r["activity"]["name"] for r in record.run]
    calls = _calls(log)
    assert "before_activity(a2)" not in calls
    assert calls[calls.index("before_activity(a1)") + 1] == "after_activity(a1)"
    assert calls[-3:] == ["before_activity(r1)", "after_activity(r1)", "after_experiment(interrupts)"]
    assert outer_handlers == []


@pytest.mark.integration
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize(
    ("on", "when"),
    [("rollback", "while restoring"), ("after_experiment", "during the after_experiment and cleanup")],
)
def test_a_signal_noted_while_the_run_must_go_on_is_not_forgotten(
    make_stack: MakeStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outer_handlers: list[int],
    sig: signal.Signals,
    on: str,
    when: str,
) -> None:
    """In a rollback or after_experiment: nothing is cut short, but the run ends interrupted (130)."""
    log = tmp_path / "log"
    doc = _doc(_module(tmp_path, monkeypatch), log, [_process("a1", "pass")], on=on, sig=sig.name)
    record = _run(doc, make_stack)
    assert record.status is RunStatus.INTERRUPTED, record.notes
    assert record.exit_code == 130
    assert any(n.startswith(f"interrupted by {sig.name} {when}") for n in record.notes), record.notes
    assert [r.status for r in record.rollbacks] == ["succeeded"]
    assert _calls(log)[-1] == "after_experiment(interrupts)"
    assert outer_handlers == []


@pytest.mark.integration
def test_a_sigint_inherited_as_ignored_stays_ignored(
    make_stack: MakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outer_handlers: list[int]
) -> None:
    """A shell's background job ignores Ctrl-C (the CI failure of the Ctrl-C test); SIGTERM still works."""
    log = tmp_path / "log"
    doc = _doc(_module(tmp_path, monkeypatch), log, [_process("a1", "pass")], on="rollback", sig="SIGINT")
    previous: Callable[..., Any] | int | None = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        record = _run(doc, make_stack)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert record.status is RunStatus.PASSED, record.notes
    assert [r.status for r in record.rollbacks] == ["succeeded"]
