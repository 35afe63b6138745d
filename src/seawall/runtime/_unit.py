"""One supervised component: its process, its state and restart policy, its probes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Coroutine
from typing import Any

from seawall import clock
from seawall.config import StackConfig
from seawall.errors import RuntimeDriverError
from seawall.probes import ProbeResult, ProbeTracker
from seawall.runtime._limits import LimitPlan, plan_limits
from seawall.runtime._policy import decide
from seawall.runtime._probing import ProbeLoop
from seawall.runtime._process import (
    Child,
    command_problem,
    component_env,
    log_marker,
    read_run_record,
    remove_run_record,
    write_run_record,
)
from seawall.runtime._protocol import StatePaths
from seawall.runtime._recorder import Recorder
from seawall.runtime.base import ComponentStatus, State

EXIT_POLL = 0.05  # seconds between exit checks: bounds how late a crash is noticed
KILL_WAIT = 10.0  # seconds to wait for a SIGKILLed group to disappear


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


async def _settle(child: Child, *, paused: bool, timeout: float = 2.0) -> None:
    """Wait until a signal's effect is visible, so status read right after agrees with it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while child.paused() != paused and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


class Unit:
    """A component under supervision. Operations hold ``lock``, so each component sees one at a time."""

    def __init__(self, stack: StackConfig, name: str, paths: StatePaths, recorder: Recorder, tag: str):
        self.stack = stack
        self.name = name
        self.spec = stack.components[name]
        self.paths = paths
        self.recorder = recorder
        self.tag = tag
        self.lock = asyncio.Lock()
        self.state: State = "unknown"
        self.detail = ""
        self.child: Child | None = None
        self.restart_count = 0
        self.attempts = 0
        self.last_exit_code: int | None = None
        self.extra: dict[str, object] = {}
        self._plan: LimitPlan = plan_limits(self.spec.resources, tag, apply=False)
        self._done = asyncio.Event()
        self._stopping = False
        self._forced: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._backoff: asyncio.Task[None] | None = None
        self._actions: set[asyncio.Task[None]] = set()

    # status -------------------------------------------------------------------------------------

    def status(self) -> ComponentStatus:
        """What is known right now (a SIGSTOP sent from outside shows as paused)."""
        state, child = self.state, self.child
        if child is not None and state in ("running", "paused"):
            state = "paused" if child.paused() else "running"
        return ComponentStatus(
            name=self.name,
            state=state,
            pid=child.pid if child else None,
            started_at=child.started_at if child else None,
            restart_count=self.restart_count,
            last_exit_code=self.last_exit_code,
            limits=tuple(self._plan.states),
            detail=self.detail,
            extra=dict(self.extra),
        )

    # operations (callers hold no lock; each takes it) ----------------------------------------------

    async def start(self) -> str | None:
        """Start unless alive (idempotent); returns why it cannot start, if it cannot."""
        async with self.lock:
            if self.child is not None:
                return None
            self._cancel_backoff()
            self.attempts = 0
            problem = self._spawn()
            if problem is None:
                self.recorder.event("start", self.name, pid=self.child.pid if self.child else None)
            return problem

    async def stop(self, grace: float | None = None) -> None:
        """SIGTERM the group, SIGKILL after the grace; the policy does not restart it."""
        async with self.lock:
            await self._stop(grace, record=True)

    async def restart(self, grace: float | None = None) -> str | None:
        """Stop gracefully and start again; counts as a restart."""
        async with self.lock:
            await self._stop(grace, record=False)
            self.restart_count += 1
            self.attempts = 0
            problem = self._spawn()
            self.recorder.event("restart", self.name, restart_count=self.restart_count, problem=problem)
            return problem

    async def kill(self, sig: int) -> None:
        """Send any signal to the group; an exit it causes goes through the restart policy."""
        async with self.lock:
            child = self._alive("signal")
            child.signal_group(sig)
            if sig in (signal.SIGSTOP, signal.SIGCONT):
                await _settle(child, paused=sig == signal.SIGSTOP)
                self.state = "paused" if sig == signal.SIGSTOP else "running"
            self.recorder.event("kill", self.name, signal=_signame(sig), pid=child.pid)

    async def pause(self) -> None:
        """SIGSTOP the group."""
        async with self.lock:
            child = self._alive("pause")
            child.signal_group(signal.SIGSTOP)
            await _settle(child, paused=True)
            self.state = "paused"
            self.recorder.event("pause", self.name, pid=child.pid)

    async def resume(self) -> None:
        """SIGCONT the group."""
        async with self.lock:
            child = self._alive("resume")
            child.signal_group(signal.SIGCONT)
            await _settle(child, paused=False)
            self.state = "running"
            self.recorder.event("resume", self.name, pid=child.pid)

    def adopt(self) -> None:
        """Take over the process a previous supervisor left running (called once, at startup)."""
        record = read_run_record(self.paths.run_record(self.name))
        if record is None:
            return
        self.restart_count = int(record.get("restart_count", 0))
        self.attempts = int(record.get("attempts", 0))
        child = Child.adopt(record)
        if child is None:
            # it died while nobody watched: an exit with an unknown code, handled by the policy
            gone = Child(int(record.get("pid", 0)), 0.0, float(record.get("started_at", 0.0)), None)
            gone.exited = True
            self.child = gone
            self.recorder.event("adopt_gone", self.name, pid=gone.pid)
            self._on_exit(gone, leftovers=False)
            return
        self._plan = plan_limits(self.spec.resources, self.tag, apply=True)
        self._attach(child)
        self.state = "paused" if child.paused() else "running"
        log_marker(self.paths.log(self.name), f"adopted pid {child.pid} after a supervisor restart")
        self.recorder.event("adopt", self.name, pid=child.pid)

    async def close(self) -> None:
        """Cancel background tasks (the process itself is left alone)."""
        self._cancel_backoff()
        tasks = list(self._tasks | self._actions)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # internals ----------------------------------------------------------------------------------

    def _alive(self, verb: str) -> Child:
        if self.child is None:
            raise RuntimeDriverError(f"cannot {verb} component {self.name!r}: it is {self.state}")
        return self.child

    def _spawn(self) -> str | None:
        problem = command_problem(self.stack, self.name)
        if problem is None:
            assert self.spec.command is not None
            plan = plan_limits(self.spec.resources, self.tag, apply=True)
            try:
                child = Child.spawn(
                    list(self.spec.command),
                    self.stack.resolve(self.spec.cwd or "."),
                    component_env(self.spec),
                    self.paths.log(self.name),
                    plan,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                plan.release()
                problem = f"cannot start {self.spec.command[0]}: {exc}"
        if problem is not None:
            self.state, self.detail = "failed", problem
            log_marker(self.paths.log(self.name), f"cannot start: {problem}")
            self.recorder.event("start_failed", self.name, reason=problem)
            return problem
        self._plan = plan
        self._attach(child)
        self.state, self.detail = "running", ""
        log_marker(self.paths.log(self.name), f"started pid {child.pid}")
        write_run_record(
            self.paths.run_record(self.name),
            child.record(component=self.name, restart_count=self.restart_count, attempts=self.attempts),
        )
        return None

    def _attach(self, child: Child) -> None:
        self.child = child
        self._done = asyncio.Event()
        self._spawn_task(self._watch(child))
        probes = self.spec.probes
        if probes.live is not None:
            tracker = ProbeTracker(probes.live, "live")

            def on_live(result: ProbeResult) -> None:
                if tracker.observe(result) and not tracker.healthy:
                    # not a tracked task: the exit it causes cancels the probes, not this action
                    action = asyncio.get_running_loop().create_task(
                        self._liveness_failed(child, result.detail or "probe failed")
                    )
                    self._actions.add(action)
                    action.add_done_callback(self._actions.discard)

            self._spawn_task(
                ProbeLoop(
                    self.name,
                    "live",
                    probes.live,
                    recorder=self.recorder,
                    on_result=on_live,
                    paused=self._paused,
                )()
            )
        if probes.ready is not None:

            def on_ready(result: ProbeResult) -> None:
                self.extra = {"ready": result.status.value, "ready_latency": round(result.latency, 6)}
                if result.detail:
                    self.extra["ready_detail"] = result.detail

            self._spawn_task(
                ProbeLoop(
                    self.name,
                    "ready",
                    probes.ready,
                    recorder=self.recorder,
                    on_result=on_ready,
                    paused=self._paused,
                )()
            )

    def _paused(self) -> bool:
        return self.state == "paused"

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, child: Child) -> None:
        while not child.poll():
            await asyncio.sleep(EXIT_POLL)
        self._on_exit(child, leftovers=True)

    def _cancel_probes(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def _cancel_backoff(self) -> None:
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None

    def _on_exit(self, child: Child, *, leftovers: bool) -> None:
        if child is not self.child:
            return
        self.child = None
        self._cancel_probes()
        if leftovers:
            child.kill_leftovers()
        self._plan.release()
        remove_run_record(self.paths.run_record(self.name))
        code = child.returncode
        self.last_exit_code = code
        self.extra = {}
        log = self.paths.log(self.name)
        log_marker(log, f"exited with code {code if code is not None else 'unknown'}")
        done = self._done
        done.set()
        if self._stopping:
            return
        forced, self._forced = self._forced, None
        ran_for = clock.now() - child.started_at
        self.recorder.event("exit", self.name, pid=child.pid, code=code, ran_for=round(ran_for, 3))
        decision = decide(
            self.spec.restart,
            one_shot=self.spec.one_shot,
            code=code,
            attempts=self.attempts,
            ran_for=ran_for,
            forced_failure=forced is not None,
        )
        self.attempts = decision.attempts
        why = f"liveness probe failed ({forced}); " if forced else ""
        shown = code if code is not None else "unknown"
        if decision.action == "complete":
            self.state, self.detail = "completed", "completed (exit code 0)"
        elif decision.action == "exit":
            self.state, self.detail = "exited", f"{why}exited with code {shown}"
        elif decision.action == "give_up":
            self.state = "exited"
            self.detail = f"{why}gave up after {decision.attempts} restarts; last exit code {shown}"
            self.recorder.event("retries_exhausted", self.name, attempts=decision.attempts, code=code)
        else:
            self.state = "backoff"
            limit = self.spec.restart.max_retries
            of = f"/{limit}" if limit is not None else ""
            self.detail = f"{why}exit code {shown}; restart {decision.attempts}{of} in {decision.delay:g}s"
            log_marker(log, f"restarting in {decision.delay:g}s")
            self._backoff = asyncio.get_running_loop().create_task(self._restart_later(decision.delay))

    async def _restart_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self.lock:
            if self.state != "backoff":
                return
            self._backoff = None
            self.restart_count += 1
            if self._spawn() is None:
                self.recorder.event(
                    "policy_restart", self.name, attempt=self.attempts, restart_count=self.restart_count
                )

    async def _liveness_failed(self, child: Child, reason: str) -> None:
        async with self.lock:
            if child is not self.child:
                return
            self.recorder.event("liveness_restart", self.name, pid=child.pid, reason=reason)
            log_marker(self.paths.log(self.name), f"liveness probe failed: {reason}")
            self._forced = reason
            await self._terminate(child, self.spec.stop_grace)

    async def _terminate(self, child: Child, grace: float) -> bool:
        """SIGTERM (and SIGCONT, so a paused group can act on it), SIGKILL after ``grace``."""
        done = self._done
        child.signal_group(signal.SIGTERM)
        child.signal_group(signal.SIGCONT)
        try:
            await asyncio.wait_for(done.wait(), grace)
        except TimeoutError:
            child.signal_group(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), KILL_WAIT)
            return True
        return False

    async def _stop(self, grace: float | None, *, record: bool) -> None:
        grace = self.spec.stop_grace if grace is None else grace
        was = self.state
        if self._backoff is not None:
            self._cancel_backoff()
        child = self.child
        escalated = False
        if child is not None:
            self._stopping = True
            try:
                escalated = await self._terminate(child, grace)
            finally:
                self._stopping = False
        if child is not None or was in ("backoff", "running", "paused", "starting"):
            self.state, self.detail = "stopped", "stopped (SIGKILL after grace)" if escalated else "stopped"
            if record:
                self.recorder.event("stop", self.name, was=was, escalated=escalated, code=self.last_exit_code)
