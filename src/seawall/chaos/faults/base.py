"""What every fault and inverse shares: the context they act in, their protocols and their errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from seawall.config import StackConfig
from seawall.errors import OperationError
from seawall.runtime import Runtime
from seawall.runtime.local import fault_proxy_api

DEFAULT_PROXY_API = "http://127.0.0.1:8474"


def stack_proxy_api(stack: StackConfig) -> str | None:
    """The control API of the fault proxy the stack's supervisor hosts (local runtime, edges), or None."""
    return fault_proxy_api(stack)


def resolve_proxy_api(explicit: str | None, stack: StackConfig) -> str:
    """Where network faults go: an explicit setting, else the stack's own proxy, else the default.

    The stack's own proxy is the local supervisor's, or on a compose stack with edges the host-side
    edge proxy (``seawall.chaos.compose_edges``), whose API port is reserved here.
    """
    if explicit:
        return explicit
    if stack.runtime == "compose":
        from seawall.chaos.compose_edges import compose_proxy_api

        compose_api = compose_proxy_api(stack)
        if compose_api is not None:
            return compose_api
    return stack_proxy_api(stack) or DEFAULT_PROXY_API


class InjectionFailed(OperationError):
    """A fault could not be applied."""


class RestoreFailed(OperationError):
    """An inverse (or a rollback) could not undo its fault."""


@dataclass
class FaultContext:
    """What faults and inverses act on: the stack, its runtime, and the fault proxy's control API."""

    stack: StackConfig
    runtime_factory: Callable[[StackConfig], Runtime]
    proxy_api: str = DEFAULT_PROXY_API
    _runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        """The stack's runtime, built on first use (resource and network faults never need one)."""
        if self._runtime is None:
            self._runtime = self.runtime_factory(self.stack)
        return self._runtime

    def close(self) -> None:
        """Release the runtime's connections (components keep running)."""
        if self._runtime is not None:
            self._runtime.close()


class Inverse(Protocol):
    """Undoes one fault; idempotent, bounded in time, serialisable into the ledger."""

    kind: ClassVar[str]

    def __call__(self, ctx: FaultContext) -> str:
        """Undo the fault (a no-op if it is not there); returns what was done. Raises RestoreFailed."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The ledger form; ``kind`` plus the settings ``inverse_from_dict`` needs."""
        ...


class Fault(Protocol):
    """One fault: settings in ``__init__``, injection in ``__call__``, its automatic inverse."""

    kind: ClassVar[str]
    id: str

    @property
    def target(self) -> str:
        """What it touches: a component, an edge ``a->b``, or ``host``."""
        ...

    def inverse(self) -> Inverse:
        """The inverse, known before the fault is applied (it is written to the ledger first)."""
        ...

    def __call__(self, ctx: FaultContext) -> str:
        """Apply the fault; returns a short description. Raises InjectionFailed."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The fault's settings, for the ledger and the journal."""
        ...


class ComponentFault:
    """What a fault on one component shares: its id, the component as its target, its JSON form."""

    kind: ClassVar[str] = ""

    def __init__(self, fault_id: str, component: str) -> None:
        self.id = fault_id
        self.component = component

    @property
    def target(self) -> str:
        return self.component

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component}


__all__ = [
    "DEFAULT_PROXY_API",
    "ComponentFault",
    "Fault",
    "FaultContext",
    "InjectionFailed",
    "Inverse",
    "RestoreFailed",
    "resolve_proxy_api",
    "stack_proxy_api",
]
