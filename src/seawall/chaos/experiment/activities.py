"""Running activities: stack probes, inline checks, and Chaos Toolkit's process/http/python providers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import shlex
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from seawall import clock
from seawall.chaos.experiment.model import Activity, Provider
from seawall.chaos.experiment.tolerance import within_tolerance
from seawall.config import ProbeSpec, StackConfig
from seawall.probes import run_probe

MAX_OUTPUT = 4096  # characters of stdout / body kept in journals


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


def _process(provider: Provider) -> dict[str, Any]:
    done = subprocess.run(
        [str(provider.path), *_arguments(provider.arguments)],
        capture_output=True,
        text=True,
        timeout=provider.seconds,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return {"status": done.returncode, "stdout": done.stdout[:MAX_OUTPUT], "stderr": done.stderr[:MAX_OUTPUT]}


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


def run_activity(activity: Activity, stack: StackConfig, evaluate: bool = True) -> ActivityResult:
    """Run once; every failure becomes a failed result, never an exception."""
    start = clock.now()
    spec = probe_spec(activity, stack)
    try:
        if spec is not None:
            output: Any = _probe(spec)
        elif activity.provider is None:
            raise ValueError("nothing to run")
        elif activity.provider.type == "process":
            output = _process(activity.provider)
        elif activity.provider.type == "http":
            output = _http(activity.provider)
        else:
            output = _python(activity.provider)
    except Exception as exc:  # an activity must never take the runner (and its restore) down
        return ActivityResult(
            activity, "failed", None, start, clock.now(), False if evaluate else None, repr(exc)
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
    return ActivityResult(activity, "succeeded", output, start, clock.now(), met)


__all__ = ["ActivityResult", "probe_spec", "run_activity"]
