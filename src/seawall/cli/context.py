"""Options shared by every command (-f, --log-format) and lazy access to the stack and its runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from seawall.config import StackConfig
    from seawall.runtime import Runtime
    from seawall.store import Store


@dataclass
class Options:
    """Global options, parsed once by the app callback."""

    file: Path | None = None
    log_format: str = "human"
    verbose: bool = False
    _stack: StackConfig | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)

    def stack(self) -> StackConfig:
        """The stack file (-f or ./seawall.yaml), loaded and validated once."""
        if self._stack is None:
            from seawall.config import load_stack

            self._stack = load_stack(self.file)
        return self._stack

    def runtime(self) -> Runtime:
        """The stack's runtime driver."""
        if self._runtime is None:
            from seawall.runtime import get_runtime

            self._runtime = get_runtime(self.stack())
        return self._runtime

    def store(self) -> Store:
        """The stack's state store."""
        from seawall.store import open_store

        return open_store(self.stack().state_dir)

    def close(self) -> None:
        """Release the runtime's connections (components keep running)."""
        if self._runtime is not None:
            self._runtime.close()


def options(ctx: typer.Context) -> Options:
    """The Options of the current invocation."""
    obj: object = ctx.find_root().obj
    if not isinstance(obj, Options):
        obj = Options()
        ctx.find_root().obj = obj
    return obj


def console(stderr: bool = False) -> Console:
    """A Rich console (stderr for progress, so --json stdout stays clean)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
