"""Running activities: stack probes, inline checks, and Chaos Toolkit's process/http/python providers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shlex
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from seawall import clock
from seawall.chaos.experiment.model import Activity, Provider
from seawall.chaos.experiment.placeholders import expand, hide
from seawall.chaos.experiment.tolerance import within_tolerance
from seawall.config import ProbeSpec, StackConfig
from seawall.probes import run_probe

MAX_OUTPUT = 4096  # characters of stdout / body kept in journals
POLL = 0.1  # seconds between checks of a running process action for cancellation


class ActionCancelled(Exception):
    """The run is being aborted (a guard, Ctrl-C): a running process action was killed."""


@dataclass(frozen=True, slots=True)
class ActivityResult:
    """One execution of an activity, in the shape of a Chaos Toolkit journal run entry."""

    activity: Activity
    status: str  # succeeded | failed
    output: Any
    start: float
    end: float
    tolerance_met: bool | None = None
    exception: str | None = None

    @property
    def ok(self) -> bool:
        """Succeeded and, if a tolerance was evaluated, met it."""
        return self.status == "succeeded" and self.tolerance_met is not False

    def to_journal(self) -> dict[str, Any]:
        """A Chaos Toolkit ``run`` / ``probes`` / ``rollbacks`` entry."""
        entry: dict[str, Any] = {
            "activity": _ctk_activity(self.activity),
            "status": self.status,
            "output": self.output,
            "start": clock.iso(self.start),
            "end": clock.iso(self.end),
            "duration": round(self.end - self.start, 6),
        }
        if self.tolerance_met is not None:
            entry["tolerance_met"] = self.tolerance_met
        if self.exception is not None:
            entry["exception"] = [self.exception]
        return entry


def _ctk_activity(activity: Activity) -> dict[str, Any]:
    data: dict[str, Any] = {"type": activity.type, "name": activity.label}
    if activity.provider is not None:
        data["provider"] = activity.provider.model_dump(exclude_none=True, mode="json")
    elif activity.probe is not None:
        data["provider"] = {"type": "seawall", "probe": activity.probe}
    elif activity.check is not None:
        data["provider"] = {
            "type": "seawall",
            "check": activity.check.model_dump(exclude_none=True, mode="json"),
        }
    if activity.tolerance is not None:
        data["tolerance"] = activity.tolerance
    if activity.background:
        data["background"] = True
    return data


def _arguments(arguments: list[str] | str | dict[str, Any] | None) -> list[str]:
    if arguments is None:
        return []
    if isinstance(arguments, str):
        return shlex.split(arguments)
    if isinstance(arguments, dict):
        argv: list[str] = []
        for key, value in arguments.items():
            argv.append(key if key.startswith("-") else f"--{key}")
            if value not in (None, True, ""):
                argv.append(str(value))
        return argv
    return [str(a) for a in arguments]


def _process(provider: Provider, cancel: threading.Event | None = None) -> dict[str, Any]:
    # its own process group, so cancelling kills what it started too
    proc = subprocess.Popen(
        [str(provider.path), *_arguments(provider.arguments)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = clock.monotonic() + provider.seconds
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=POLL)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    raise ActionCancelled(f"killed {provider.path}: the run was aborted") from None
                if clock.monotonic() >= deadline:
                    raise subprocess.TimeoutExpired(proc.args, provider.seconds) from None
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=5.0)
    return {"status": proc.returncode, "stdout": stdout[:MAX_OUTPUT], "stderr": stderr[:MAX_OUTPUT]}


def _http(provider: Provider) -> dict[str, Any]:
    data = None
    headers = dict(provider.headers)
    if isinstance(provider.arguments, dict) and provider.method.upper() != "GET":
        data = json.dumps(provider.arguments).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(
        str(provider.url), data=data, method=provider.method.upper(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=provider.seconds) as response:
            status, raw, head = int(response.status), response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, head = exc.code, exc.read(), dict(exc.headers)
        exc.close()
    text = raw.decode(errors="replace")
    body: Any = text[:MAX_OUTPUT]
    if "json" in head.get("Content-Type", ""):
        with contextlib.suppress(ValueError):
            body = json.loads(text)
    return {"status": status, "headers": head, "body": body}


def _python(provider: Provider) -> Any:
    module = importlib.import_module(str(provider.module))
    func = getattr(module, str(provider.func))
    arguments = provider.arguments if isinstance(provider.arguments, dict) else {}
    return func(**arguments)


def _probe(spec: ProbeSpec) -> dict[str, Any]:
    result = asyncio.run(run_probe(spec))
    return {
        "ok": result.ok,
        "status": result.status.value,
        "latency": round(result.latency, 6),
        "detail": result.detail,
    }


def probe_spec(activity: Activity, stack: StackConfig) -> ProbeSpec | None:
    """The ProbeSpec an activity runs (a stack probe or an inline check), if it is one."""
    if activity.check is not None:
        return activity.check
    if activity.probe is not None:
        component, _, role = activity.probe.partition(".")
        return dict(stack.components[component].probes.items())[role]
    return None


def run_provider(provider: Provider, cancel: threading.Event | None = None) -> Any:
    """Run a provider once, its ``${VAR}`` placeholders expanded (see ``placeholders``); may raise."""
    provider = provider.model_copy(
        update={k: expand(getattr(provider, k)) for k in ("path", "arguments", "url", "headers")}
    )
    if provider.type == "process":
        return _process(provider, cancel)
    if provider.type == "http":
        return _http(provider)
    return _python(provider)


def run_activity(
    activity: Activity, stack: StackConfig, evaluate: bool = True, cancel: threading.Event | None = None
) -> ActivityResult:
    """Run once; every failure becomes a failed result, never an exception.

    Setting ``cancel`` kills a running process action (and its process group); other activities
    are bounded by their own timeouts.
    """
    start = clock.now()
    spec = probe_spec(activity, stack)
    try:
        if spec is not None:
            output: Any = _probe(spec)
        elif activity.provider is None:
            raise ValueError("nothing to run")
        else:
            output = run_provider(activity.provider, cancel)
    except Exception as exc:  # an activity must never take the runner (and its restore) down
        return ActivityResult(
            activity, "failed", None, start, clock.now(), False if evaluate else None, hide(repr(exc))
        )
    met: bool | None = None
    if evaluate:
        if spec is not None:
            met = (
                output["ok"]
                if activity.tolerance is None
                else within_tolerance(activity.tolerance, output["ok"])
            )
        else:
            met = within_tolerance(activity.tolerance, output)
    # tolerances judge what the provider returned; the record never shows a secret
    return ActivityResult(activity, "succeeded", hide(output), start, clock.now(), met)


__all__ = ["ActionCancelled", "ActivityResult", "probe_spec", "run_activity", "run_provider"]
