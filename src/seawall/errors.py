"""The one exception tree of Seawall, and the exit code each branch maps to.

    SeawallError                      exit 1   anything Seawall reports on purpose
    ├── UserError                     exit 2   the operator can fix it: config, usage
    │   ├── ConfigError                        bad seawall.yaml / compose file (file, line, key)
    │   ├── UsageError                         bad arguments, unknown component names
    │   └── ConfirmationRefused                a destructive command was not confirmed
    ├── OperationError                exit 1   the stack or the machine failed at run time
    │   ├── RuntimeDriverError                 a process could not be started / signalled
    │   ├── DaemonUnavailable                  the stack supervisor is not running / not answering
    │   ├── NotReadyError                      a component never became ready in time
    │   ├── ToolMissingError                   an external tool (pg_dump, ...) is not installed
    │   └── StoreError                         the state store cannot be opened or written
    └── Interrupted                   exit 130 Ctrl-C / SIGTERM; cleanup already ran

Third-party exceptions are translated once, at the adapter edge, with ``raise ... from exc``.
The CLI prints ``str(error)`` (one readable message) and exits with ``error.exit_code``;
no traceback reaches the user for any of these.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class SeawallError(Exception):
    """Base of every error Seawall raises on purpose."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UserError(SeawallError):
    """Something the operator can fix (configuration, arguments): exit 2."""

    exit_code = EXIT_USAGE


class ConfigError(UserError):
    """A configuration file is invalid; names the file, line and key path."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.key = key
        where = ""
        if self.file:
            where = self.file if line is None else f"{self.file}:{line}"
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class UsageError(UserError):
    """Bad command-line usage, e.g. an unknown component name."""


class ConfirmationRefused(UserError):
    """A destructive operation was not confirmed by the operator."""


class OperationError(SeawallError):
    """A run-time failure of the stack, a tool or the machine: exit 1."""


class RuntimeDriverError(OperationError):
    """A runtime could not start, stop or signal a component."""


class DaemonUnavailable(OperationError):
    """The stack's supervisor daemon is not running or does not answer."""


class NotReadyError(OperationError):
    """A component did not become ready within its start timeout."""

    def __init__(self, component: str, timeout: float, detail: str = "") -> None:
        self.component = component
        self.timeout = timeout
        msg = f"component {component!r} did not become ready within {timeout:g}s"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class ToolMissingError(OperationError):
    """An external program Seawall needs is not installed."""


class StoreError(OperationError):
    """The state store could not be opened, migrated or written."""


class Interrupted(SeawallError):
    """The operator interrupted the command (Ctrl-C or SIGTERM); cleanup has run."""

    exit_code = EXIT_INTERRUPTED


__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "ConfirmationRefused",
    "DaemonUnavailable",
    "Interrupted",
    "NotReadyError",
    "OperationError",
    "RuntimeDriverError",
    "SeawallError",
    "StoreError",
    "ToolMissingError",
    "UsageError",
    "UserError",
]
