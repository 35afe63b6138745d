"""The supervisor's files under the state directory and its JSON-lines control protocol."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from seawall.runtime.base import ComponentStatus, LimitState, State

# AF_UNIX paths are limited to 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True, slots=True)
class StatePaths:
    """Where the supervisor of one stack keeps its pidfile, socket, logs and run records."""

    state_dir: Path

    @property
    def pidfile(self) -> Path:
        """Holds the daemon's pid; the daemon keeps an flock on it while it lives."""
        return self.state_dir / "supervisor.pid"

    @property
    def socket(self) -> Path:
        """The control socket (JSON request/response lines)."""
        return self.state_dir / "supervisor.sock"

    @property
    def daemon_log(self) -> Path:
        """The daemon's own stdout and stderr."""
        return self.state_dir / "supervisor.log"

    @property
    def logs_dir(self) -> Path:
        """One log file per component."""
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """One JSON record per running component process, for adoption after a daemon crash."""
        return self.state_dir / "run"

    def log(self, component: str) -> Path:
        """The stdout+stderr log of a component."""
        return self.logs_dir / f"{component}.log"

    def run_record(self, component: str) -> Path:
        """The pid record of a component's current process."""
        return self.run_dir / f"{component}.json"


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one protocol line; a non-object is a protocol error (ValueError)."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("a protocol message must be a JSON object")
    return cast(dict[str, Any], value)


def status_to_dict(status: ComponentStatus) -> dict[str, Any]:
    """JSON form of a ComponentStatus."""
    return {
        "name": status.name,
        "state": status.state,
        "pid": status.pid,
        "started_at": status.started_at,
        "restart_count": status.restart_count,
        "last_exit_code": status.last_exit_code,
        "limits": [
            {"name": lim.name, "value": lim.value, "enforced": lim.enforced, "how": lim.how}
            for lim in status.limits
        ],
        "detail": status.detail,
        "extra": status.extra,
    }


def status_from_dict(data: dict[str, Any]) -> ComponentStatus:
    """A ComponentStatus from its JSON form."""
    return ComponentStatus(
        name=str(data["name"]),
        state=cast(State, data["state"]),
        pid=data.get("pid"),
        started_at=data.get("started_at"),
        restart_count=int(data.get("restart_count", 0)),
        last_exit_code=data.get("last_exit_code"),
        limits=tuple(
            LimitState(str(x["name"]), str(x["value"]), bool(x["enforced"]), str(x["how"]))
            for x in data.get("limits", [])
        ),
        detail=str(data.get("detail", "")),
        extra=dict(data.get("extra") or {}),
    )
