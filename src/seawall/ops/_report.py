"""The shape `seawall doctor` and `seawall smoke` reports share: failures, exit code, JSON envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class _Entry(Protocol):
    def to_dict(self) -> dict[str, object]: ...


EntryT = TypeVar("EntryT", bound=_Entry)


class CheckReport(Generic[EntryT]):
    """A stack's checks: those that failed make the exit code 1; ``to_dict`` wraps them for JSON."""

    stack: str

    def _entries(self) -> Sequence[EntryT]:
        """The checks in report order."""
        raise NotImplementedError

    def _fails(self, entry: EntryT) -> bool:
        """Whether ``entry`` failed."""
        raise NotImplementedError

    @property
    def failed(self) -> list[EntryT]:
        """The checks that failed."""
        return [e for e in self._entries() if self._fails(e)]

    @property
    def exit_code(self) -> int:
        """1 if any check failed, else 0."""
        return 1 if self.failed else 0

    def _envelope(self, key: str, **fields: object) -> dict[str, object]:
        """JSON form: the stack, then ``fields``, then every check's own JSON under ``key``."""
        return {"stack": self.stack, **fields, key: [e.to_dict() for e in self._entries()]}
