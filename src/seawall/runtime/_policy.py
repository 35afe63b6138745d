"""The restart decision after a component exits: a pure function of its policy and history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seawall.config import RestartPolicy

Action = Literal["restart", "exit", "complete", "give_up"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the supervisor does after an exit: the action, the new retry count and the delay."""

    action: Action
    attempts: int
    delay: float = 0.0


def decide(
    policy: RestartPolicy,
    *,
    one_shot: bool,
    code: int | None,
    attempts: int,
    ran_for: float,
    forced_failure: bool = False,
) -> Decision:
    """Decide what follows an exit with ``code`` (None: unknown, counted as a failure).

    ``attempts`` is the number of policy restarts since the count was last reset; running
    ``policy.reset_after`` seconds without a crash resets it, as in supervisors and Kubernetes.
    """
    failed = forced_failure or code != 0
    if one_shot and not failed:
        return Decision("complete", 0)
    if ran_for >= policy.reset_after:
        attempts = 0
    wants = policy.policy == "always" or (policy.policy == "on-failure" and failed)
    if not wants:
        return Decision("exit", attempts)
    if policy.max_retries is not None and attempts >= policy.max_retries:
        return Decision("give_up", attempts)
    attempts += 1
    return Decision("restart", attempts, policy.backoff.delay(attempts))
