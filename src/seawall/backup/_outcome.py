"""The shape `backup create` and `backup verify` results share: a pass/fail verdict and its exit code."""

from __future__ import annotations


class Outcome:
    """A result that passed (``ok``) or did not; the exit code follows from it."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        """Whether the operation passed."""
        raise NotImplementedError

    @property
    def exit_code(self) -> int:
        """0 when the operation passed, else 1."""
        return 0 if self.ok else 1
