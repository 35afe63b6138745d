"""The precise timer: callbacks run on their loop, not before their deadline, in order, and cancel works.

Its accuracy is a benchmark figure (bench/proxy.py), not asserted here.
"""

from __future__ import annotations

import asyncio
import time

from seawall.chaos.proxy import precise_timer


def test_callbacks_run_on_the_loop_in_deadline_order_and_never_early() -> None:
    async def main() -> list[tuple[str, float, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float, float]] = []
        done = loop.create_future()
        start = time.monotonic()
        # one far enough for the loop's own timer first, two inside the thread's lead window
        plan = {"far": start + 0.05, "near": start + 0.001, "middle": start + 0.002}
        for name, when in plan.items():

            def fire(name: str = name, when: float = when) -> None:
                assert asyncio.get_running_loop() is loop  # called on the loop's thread
                fired.append((name, when, time.monotonic()))
                if len(fired) == len(plan):
                    done.set_result(None)

            precise_timer.call_at(loop, when, fire)
        await asyncio.wait_for(done, 5)
        return fired

    fired = asyncio.run(main())
    assert [name for name, _, _ in fired] == ["near", "middle", "far"]
    assert all(at >= when for _, when, at in fired)


def test_cancel_before_and_after_the_hand_over_to_the_thread() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        fired: list[str] = []
        now = time.monotonic()
        far = precise_timer.call_at(loop, now + 0.05, lambda: fired.append("far"))
        near = precise_timer.call_at(loop, now + 0.002, lambda: fired.append("near"))
        kept = precise_timer.call_at(loop, now + 0.01, lambda: fired.append("kept"))
        far.cancel()
        near.cancel()
        near.cancel()  # twice is harmless
        await asyncio.sleep(0.1)
        kept.cancel()  # after it ran: nothing happens
        return fired

    assert asyncio.run(main()) == ["kept"]


def test_a_deadline_already_past_runs_soon() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        precise_timer.call_at(loop, time.monotonic() - 1, lambda: done.set_result(True))
        return bool(await asyncio.wait_for(done, 5))

    assert asyncio.run(main())


def test_a_timer_whose_loop_closed_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    fired: list[str] = []
    precise_timer.call_at(loop, time.monotonic() + 0.001, lambda: fired.append("x"))
    loop.close()
    time.sleep(0.05)  # the thread reaches the deadline and finds the loop closed
    check = asyncio.new_event_loop()
    try:  # the thread survived: a later timer still fires
        done = check.create_future()
        precise_timer.call_at(check, time.monotonic() + 0.001, lambda: done.set_result(True))
        assert check.run_until_complete(asyncio.wait_for(done, 5))
    finally:
        check.close()
    assert fired == []
