"""Runtimes: how components are run (local processes, compose projects; later Kubernetes), one Protocol."""

from __future__ import annotations

from seawall.config import StackConfig
from seawall.errors import UserError
from seawall.runtime._process import command_problem
from seawall.runtime.base import ComponentStatus, LimitState, Runtime, RuntimeFactory, State
from seawall.runtime.compose import ComposeRuntime, ExecResult, stack_from_compose
from seawall.runtime.local import LocalRuntime, daemon_pid, ensure_daemon, shutdown_daemon

RUNTIMES: dict[str, RuntimeFactory] = {"local": LocalRuntime, "compose": ComposeRuntime}


def get_runtime(stack: StackConfig) -> Runtime:
    """The runtime driver the stack asks for (``runtime:`` in seawall.yaml)."""
    factory = RUNTIMES.get(stack.runtime)
    if factory is None:
        supported = ", ".join(sorted(RUNTIMES))
        raise UserError(
            f"runtime {stack.runtime!r} is not supported yet (supported: {supported})",
            hint="set `runtime: local` in seawall.yaml to run the components as local processes",
        )
    return factory(stack)


def shutdown(stack: StackConfig) -> bool:
    """Stop the stack's supervisor, if its runtime has one (``seawall down`` of everything).

    The compose runtime has none: the engine supervises the containers, so this is a no-op there.
    """
    if stack.runtime != "local":
        return False
    return shutdown_daemon(stack)


__all__ = [
    "RUNTIMES",
    "ComponentStatus",
    "ComposeRuntime",
    "ExecResult",
    "LimitState",
    "LocalRuntime",
    "Runtime",
    "RuntimeFactory",
    "State",
    "command_problem",
    "daemon_pid",
    "ensure_daemon",
    "get_runtime",
    "shutdown",
    "shutdown_daemon",
    "stack_from_compose",
]
