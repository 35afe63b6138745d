"""`seawall doctor`: preflight checks of a stack and this machine, any of which can fail."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from seawall.config import StackConfig
from seawall.errors import SeawallError
from seawall.ops._report import CheckReport
from seawall.ops.doctor_checks import (
    Check,
    Mark,
    backup_checks,
    command_checks,
    config_checks,
    disk_checks,
    memory_check,
    runtime_check,
    volume_checks,
)
from seawall.ops.doctor_ports import port_checks
from seawall.ops.doctor_tools import tool_checks
from seawall.runtime import Runtime


@dataclass(frozen=True)
class DoctorReport(CheckReport[Check]):
    """Every check in a stable order: config, runtime, commands, tools, ports, memory, disk, volumes, backups.

    Warnings do not fail a preflight: only failed checks make the exit code 1 (backups only warn).
    """

    stack: str
    checks: list[Check] = field(default_factory=list)

    def _entries(self) -> list[Check]:
        return self.checks

    def _fails(self, entry: Check) -> bool:
        return entry.status == "fail"

    @property
    def warnings(self) -> list[Check]:
        """The checks that passed with a warning."""
        return [c for c in self.checks if c.status == "warn"]

    @property
    def status(self) -> Mark:
        """The worst verdict of any check."""
        return "fail" if self.failed else "warn" if self.warnings else "ok"

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return self._envelope(
            "checks", status=self.status, failed=len(self.failed), warnings=len(self.warnings)
        )


def run_doctor(
    stack: StackConfig, runtime: Runtime | None, *, environ: Mapping[str, str] | None = None
) -> DoctorReport:
    """Run every preflight check; ``environ`` (default: this process's) gives the PATH tools are found on.

    Without a runtime the stack's own is looked up, so a missing or unusable one is reported, not raised.
    """
    env = os.environ if environ is None else environ
    if runtime is None:
        from seawall.runtime import get_runtime

        # the port check needs it to recognise the stack's own processes; runtime_check reports why not
        with contextlib.suppress(SeawallError):
            runtime = get_runtime(stack)
    checks = [
        *config_checks(stack),
        runtime_check(stack, runtime),
        *command_checks(stack, env),
        *tool_checks(stack, env),
        *port_checks(stack, runtime),
        memory_check(stack),
        *disk_checks(stack),
        *volume_checks(stack),
        *backup_checks(stack),
    ]
    return DoctorReport(stack.stack, checks)
