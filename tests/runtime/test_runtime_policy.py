"""The restart decision is a pure function of the policy, the exit and the history."""

from __future__ import annotations

from seawall.config import RestartPolicy
from seawall.runtime._policy import decide


def policy(**kw: object) -> RestartPolicy:
    return RestartPolicy.model_validate(kw)


def test_runtime_policy_on_failure_restarts_a_crash_with_exponential_backoff() -> None:
    p = policy(policy="on-failure", backoff={"initial": 1, "multiplier": 2, "max": 30})
    first = decide(p, one_shot=False, code=-9, attempts=0, ran_for=1.0)
    second = decide(p, one_shot=False, code=1, attempts=first.attempts, ran_for=1.0)
    assert (first.action, first.attempts, first.delay) == ("restart", 1, 1.0)
    assert (second.action, second.attempts, second.delay) == ("restart", 2, 2.0)


def test_runtime_policy_on_failure_leaves_a_clean_exit_alone() -> None:
    assert decide(policy(policy="on-failure"), one_shot=False, code=0, attempts=0, ran_for=1).action == "exit"


def test_runtime_policy_always_restarts_a_clean_exit() -> None:
    assert decide(policy(policy="always"), one_shot=False, code=0, attempts=0, ran_for=1).action == "restart"


def test_runtime_policy_no_never_restarts() -> None:
    assert decide(policy(policy="no"), one_shot=False, code=-9, attempts=0, ran_for=1).action == "exit"


def test_runtime_policy_gives_up_after_max_retries() -> None:
    p = policy(policy="on-failure", max_retries=2)
    assert decide(p, one_shot=False, code=1, attempts=2, ran_for=0.1).action == "give_up"


def test_runtime_policy_unlimited_retries_never_give_up() -> None:
    p = policy(policy="on-failure", max_retries=None)
    assert decide(p, one_shot=False, code=1, attempts=1000, ran_for=0.1).action == "restart"


def test_runtime_policy_healthy_running_resets_the_retry_count() -> None:
    p = policy(policy="on-failure", max_retries=2, reset_after=10)
    d = decide(p, one_shot=False, code=1, attempts=2, ran_for=11.0)
    assert (d.action, d.attempts) == ("restart", 1)


def test_runtime_policy_one_shot_exit_zero_completes() -> None:
    d = decide(policy(policy="on-failure"), one_shot=True, code=0, attempts=0, ran_for=0.1)
    assert d.action == "complete"


def test_runtime_policy_liveness_failure_counts_as_a_failure() -> None:
    p = policy(policy="on-failure")
    d = decide(p, one_shot=False, code=0, attempts=0, ran_for=1, forced_failure=True)
    assert d.action == "restart"


def test_runtime_policy_unknown_exit_code_counts_as_a_failure() -> None:
    assert decide(policy(policy="on-failure"), one_shot=False, code=None, attempts=0, ran_for=1).action == (
        "restart"
    )
