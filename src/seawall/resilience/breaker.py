"""The circuit breaker: closed, open and half-open over a sliding window, plus forced states."""

from __future__ import annotations

import enum
import functools
import inspect
import math
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from . import _clock, _validate
from ._counters import Counter
from .errors import CircuitOpenError
from .events import Hooks, StateChange
from .guard import Guard
from .outcome import On, Outcome, exception_predicate, retry_after_of
from .window import FAILED, SLOW, CountWindow, TimeWindow

__all__ = ["Breaker", "State"]

P = ParamSpec("P")
T = TypeVar("T")


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"


_CLOSED, _OPEN, _HALF, _F_OPEN, _F_CLOSED = (
    State.CLOSED,
    State.OPEN,
    State.HALF_OPEN,
    State.FORCED_OPEN,
    State.FORCED_CLOSED,
)


class Breaker:
    """Stops calling a dependency whose recent calls mostly failed or were slow.

    CLOSED records outcomes in a sliding window; once it holds ``min_calls`` calls and the
    failure rate (or slow-call rate) reaches its threshold it goes OPEN and refuses calls with
    :class:`CircuitOpenError` for ``open_for`` seconds. Then HALF_OPEN lets
    ``half_open_calls`` trial calls through: if their rates are under the thresholds it
    closes, else it opens again. If the trials do not finish within ``max_half_open`` seconds
    it opens again, so it never sticks in half-open. Exceptions matching ``ignore_on`` and
    results ``classify`` calls IGNORED count for nothing; exceptions not matching
    ``failure_on`` count as successes (resilience4j's rules).

    A failure that says when to come back (``retry_after(exc_or_result)``, by default a
    ``Retry-After`` header or a ``retry_after`` attribute, see
    :func:`~seawall.resilience.retry_after_of`) keeps the breaker open at least that long
    when it opens, or while it is open; ``max_retry_after`` caps what is honoured.
    """

    def __init__(
        self,
        name: str = "breaker",
        *,
        failure_rate: float = 50.0,
        slow_rate: float | None = None,
        slow_call: float | None = None,
        window: float = 100,
        window_type: str = "count",
        buckets: int = 10,
        min_calls: int = 10,
        open_for: float = 30.0,
        half_open_calls: int = 3,
        max_half_open: float | None = 60.0,
        failure_on: On = Exception,
        ignore_on: On | None = None,
        classify: Callable[[Any], Outcome] | None = None,
        retry_after: Callable[[object], float | None] | None = retry_after_of,
        max_retry_after: float | None = 300.0,
        clock: _clock.Clock | None = None,
        on_state_change: Callable[[StateChange], object] | None = None,
    ) -> None:
        _validate.breaker_settings(
            failure_rate=failure_rate,
            slow_rate=slow_rate,
            slow_call=slow_call,
            open_for=open_for,
            max_half_open=max_half_open,
            min_calls=min_calls,
            half_open_calls=half_open_calls,
            window=window,
            window_type=window_type,
            buckets=buckets,
        )
        _validate.seconds("breaker", "max_retry_after", max_retry_after, optional=True)
        if window_type == "count" and isinstance(window, float):
            window = int(window)
        self.name = name
        self.failure_rate = float(failure_rate)
        self.slow_call = slow_call
        self.slow_rate = (
            float(slow_rate) if slow_rate is not None else (100.0 if slow_call is not None else None)
        )
        self.window = window
        self.window_type = window_type
        self.buckets = buckets
        self.min_calls = min_calls
        self.open_for = float(open_for)
        self.half_open_calls = half_open_calls
        self.max_half_open = max_half_open
        self._failure = exception_predicate(failure_on, what="failure_on")
        self._ignore = exception_predicate(ignore_on, what="ignore_on") if ignore_on else None
        self._classify = classify
        #: reads how long a failed call asked us to stay away (None: never honoured)
        self.retry_after = retry_after
        self.max_retry_after = max_retry_after
        self._clock = clock
        self.on_state_change: Hooks[StateChange] = Hooks(on_state_change)
        #: whether calls are timed (only to detect slow calls)
        self._timing = slow_call is not None
        # The lock-free success path exists only where a success changes nothing but a slot
        # counter: a count window, no timing, no result classification, CLOSED state.
        self._fast_ok = window_type == "count" and slow_call is None and classify is None
        self._lock = threading.Lock()
        self._ok = Counter()
        self._failed = Counter()
        self._ignored = Counter()
        self._rejected = Counter()
        self._inc_ok = self._ok.inc
        self._open_seconds = 0.0
        self._opened_at = 0.0
        self._state = _CLOSED
        self._gen = 0
        self._fast = self._fast_ok
        self._window: CountWindow | TimeWindow = self._new_window()
        self._retry_at = 0.0
        #: monotonic time before which a failed call asked not to be called again
        self._not_before = 0.0
        self._half_open_since = 0.0
        self._trials_left = 0
        self._trial_stats = [0, 0, 0]

    # -- state ---------------------------------------------------------------------------

    def _now(self) -> float:
        return (self._clock or _clock.current()).monotonic()

    def _new_window(self) -> CountWindow | TimeWindow:
        if self.window_type == "count":
            return CountWindow(int(self.window))
        return TimeWindow(self.window, self.buckets)

    def _to(self, new: State, now: float, reason: str) -> StateChange:
        """Move to ``new``; caller holds the lock and emits the returned event after it."""
        old = self._state
        if old in (_OPEN, _F_OPEN):
            self._open_seconds += max(0.0, now - self._opened_at)
        self._gen += 1
        if new in (_OPEN, _F_OPEN):
            self._opened_at = now
            self._retry_at = max(now + self.open_for, self._not_before) if new is _OPEN else math.inf
        elif new is _HALF:
            self._half_open_since = now
            self._trials_left = self.half_open_calls
            self._trial_stats = [0, 0, 0]
        elif new is _CLOSED:
            self._window = self._new_window()
        self._state = new
        self._fast = self._fast_ok and new is _CLOSED
        return StateChange(self.name, old.value, new.value, now, reason)

    def _emit(self, events: list[StateChange]) -> None:
        for event in events:
            self.on_state_change.emit(event)

    def _tripped(self, calls: int, failed: int, slowed: int) -> str:
        if failed * 100 >= self.failure_rate * calls:
            return f"failure rate {100 * failed / calls:.1f}% >= {self.failure_rate:g}%"
        if self.slow_rate is not None and slowed * 100 >= self.slow_rate * calls:
            return f"slow-call rate {100 * slowed / calls:.1f}% >= {self.slow_rate:g}%"
        return ""

    @property
    def state(self) -> State:
        """The current state; an OPEN breaker whose wait is over reports HALF_OPEN."""
        if self._state is _OPEN:
            events: list[StateChange] = []
            with self._lock:
                now = self._now()
                if self._state is _OPEN and now >= self._retry_at:
                    events.append(self._to(_HALF, now, "open_for elapsed"))
            self._emit(events)
        return self._state

    @property
    def retry_at(self) -> float:
        """When an OPEN breaker will allow a trial call (monotonic, on its clock)."""
        return self._retry_at

    def _manual(self, new: State, reason: str) -> None:
        with self._lock:
            event = self._to(new, self._now(), reason)
        self._emit([event])

    def force_open(self) -> None:
        """Refuse every call until :meth:`reset` or :meth:`force_closed`."""
        self._manual(_F_OPEN, "forced open")

    def force_closed(self) -> None:
        """Allow every call and never trip, until :meth:`reset` or :meth:`force_open`."""
        self._manual(_F_CLOSED, "forced closed")

    def reset(self) -> None:
        """Back to CLOSED with an empty window, leaving any forced state and Retry-After waits."""
        with self._lock:
            self._not_before = 0.0
        self._manual(_CLOSED, "reset")

    def open_seconds(self) -> float:
        """Total seconds spent open or forced open, including the current spell."""
        with self._lock:
            extra = self._now() - self._opened_at if self._state in (_OPEN, _F_OPEN) else 0.0
            return self._open_seconds + max(0.0, extra)

    def counts(self) -> dict[str, int]:
        """Calls so far by outcome: success, failure, ignored, rejected."""
        return {
            "success": self._ok.value,
            "failure": self._failed.value,
            "ignored": self._ignored.value,
            "rejected": self._rejected.value,
        }

    # -- permission and recording ---------------------------------------------------------

    def _reject(self, now: float, retry_at: float) -> CircuitOpenError:
        self._rejected.inc()
        return CircuitOpenError(self.name, self._state.value, retry_at, max(0.0, retry_at - now))

    def _acquire(self) -> int:
        """Permission for one call: its generation, or raises :class:`CircuitOpenError`."""
        state = self._state
        if state is _CLOSED or state is _F_CLOSED:
            return self._gen
        events: list[StateChange] = []
        try:
            with self._lock:
                now = self._now()
                state = self._state
                if state is _CLOSED or state is _F_CLOSED:
                    return self._gen
                if state is _F_OPEN:
                    raise self._reject(now, math.inf)
                if state is _OPEN:
                    if now < self._retry_at:
                        raise self._reject(now, self._retry_at)
                    events.append(self._to(_HALF, now, "open_for elapsed"))
                if self.max_half_open is not None and (now - self._half_open_since >= self.max_half_open):
                    events.append(self._to(_OPEN, now, "half-open trials did not finish in time"))
                    raise self._reject(now, self._retry_at)
                if self._trials_left <= 0:
                    limit = self.max_half_open
                    raise self._reject(now, now if limit is None else self._half_open_since + limit)
                self._trials_left -= 1
                return self._gen
        finally:
            self._emit(events)

    def _begin(self) -> tuple[int, float]:
        """Permission for one call (see :meth:`_acquire`) and its start, read only when timing."""
        return self._acquire(), self._now() if self._timing else 0.0

    def _finish(self, result: object, gen: int, start: float) -> None:
        """Count a call that returned; ``gen == -1`` takes the lock-free path while it holds."""
        window = self._window
        if gen == -1 and self._fast and not window.bad:  # type: ignore[union-attr]
            next(window.slots)  # type: ignore[union-attr]
            self._inc_ok()
        else:
            self._on_result(result, gen, self._now() - start if self._timing else None)

    def _fail(self, exc: BaseException, gen: int, start: float) -> None:
        """Count a call that raised ``exc``."""
        self._on_exception(exc, gen, self._now() - start if self._timing else None)

    def _classify_exception(self, exc: BaseException) -> Outcome:
        if not isinstance(exc, Exception):
            return Outcome.IGNORED  # cancellation, KeyboardInterrupt: not the dependency's doing
        if self._ignore is not None and self._ignore(exc):
            return Outcome.IGNORED
        return Outcome.FAILURE if self._failure(exc) else Outcome.SUCCESS

    def _hint(self, outcome: Outcome, what: object) -> float | None:
        """Seconds a failed call (its exception or result ``what``) asked us to stay away."""
        if outcome is not Outcome.FAILURE or self.retry_after is None:
            return None
        hint = self.retry_after(what)
        if hint is None or not hint > 0:  # also refuses NaN
            return None
        return hint if self.max_retry_after is None else min(hint, self.max_retry_after)

    def _on_exception(self, exc: BaseException, gen: int, duration: float | None) -> None:
        outcome = self._classify_exception(exc)
        self._record(outcome, gen, duration, self._hint(outcome, exc))

    def _on_result(self, result: object, gen: int, duration: float | None) -> None:
        outcome = self._classify(result) if self._classify is not None else Outcome.SUCCESS
        self._record(outcome, gen, duration, self._hint(outcome, result))

    def _record(self, outcome: Outcome, gen: int, duration: float | None, hint: float | None = None) -> None:
        """Count a finished call; ``gen == -1`` means "admitted by the lock-free path".

        ``hint`` is the Retry-After of a failure, in seconds: the breaker will not allow a
        trial call before it has passed, whenever it opens (or while it is open).
        """
        if outcome is Outcome.IGNORED:
            self._ignored.inc()
        elif outcome is Outcome.FAILURE:
            self._failed.inc()
        else:
            self._inc_ok()
        slow = duration is not None and self.slow_call is not None and duration >= self.slow_call
        code = (FAILED if outcome is Outcome.FAILURE else 0) | (SLOW if slow else 0)
        events: list[StateChange] = []
        with self._lock:
            state = self._state
            if hint is not None:
                # what the dependency said holds whichever state the call was admitted under
                self._not_before = max(self._not_before, self._now() + hint)
                if state is _OPEN and self._not_before > self._retry_at:
                    self._retry_at = self._not_before
            if gen != self._gen and not (gen == -1 and state is _CLOSED):
                return  # admitted under an earlier state: it says nothing about this one
            if state is _CLOSED and outcome is not Outcome.IGNORED:
                now = self._now() if self.window_type == "time" else 0.0
                stats = self._window.record(code, now)
                if stats[0] >= self.min_calls:
                    reason = self._tripped(*stats)
                    if reason:
                        events.append(self._to(_OPEN, self._now(), reason))
            elif state is _HALF:
                if outcome is Outcome.IGNORED:
                    self._trials_left += 1
                    return
                trial = self._trial_stats
                trial[0] += 1
                trial[1] += code & FAILED
                trial[2] += (code & SLOW) >> 1
                if trial[0] >= self.half_open_calls:
                    reason = self._tripped(*trial)
                    new = _OPEN if reason else _CLOSED
                    events.append(self._to(new, self._now(), reason or "trial calls passed"))
        self._emit(events)

    # -- sync API -------------------------------------------------------------------------

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn`` through the breaker."""
        gen, start = self._begin()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._fail(exc, gen, start)
            raise
        self._finish(result, gen, start)
        return result

    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]:
        """Decorate a function so every call goes through the breaker."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is a coroutine function: use AsyncBreaker")
        slow_path = self.call
        fail = self._fail
        record = self._record
        success = Outcome.SUCCESS

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            if not self._fast:
                return slow_path(fn, *args, **kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                fail(exc, -1, 0.0)
                raise
            # _finish() inlined: a method call more costs this path ~15%
            window = self._window
            if self._fast and not window.bad:  # type: ignore[union-attr]
                next(window.slots)  # type: ignore[union-attr]
                self._inc_ok()
            else:
                record(success, -1, None)
            return result

        return guarded

    def guard(self) -> Guard:
        """A context manager (sync or async) for one call: ``with breaker.guard(): ...``."""
        return Guard(self)
