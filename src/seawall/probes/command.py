"""The command probe kind: a program whose exit status 0 means pass."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from seawall.config.probes import CommandCheck
from seawall.probes.outcome import Stopwatch, shorten
from seawall.probes.result import ProbeResult


class CommandProbe:
    """Pass when the command exits 0; on failure the detail carries its last line of output.

    The command runs in its own process group, and the whole group is killed if the caller
    stops waiting (a timeout), so no grandchild outlives the probe.
    """

    def __init__(self, check: CommandCheck) -> None:
        self.argv = list(check.argv)
        self.cwd = check.cwd

    async def __call__(self) -> ProbeResult:
        watch = Stopwatch()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            if self.cwd is not None and exc.filename == self.cwd:
                return watch.failed(f"working directory not found: {self.cwd}")
            return watch.failed(f"command not found: {self.argv[0]}")
        except PermissionError:
            return watch.failed(f"permission denied: {self.argv[0]}")
        except OSError as exc:
            return watch.failed(shorten(f"cannot run {self.argv[0]}: {exc.strerror or exc}"))
        try:
            output, _ = await proc.communicate()
        finally:
            if proc.returncode is None:
                await _kill_group(proc)
        code = proc.returncode
        if code == 0:
            return watch.passed("exit code 0", exit_code=0)
        tail = _last_line(output)
        reason = f"killed by {_signal_name(-code)}" if code is not None and code < 0 else f"exit code {code}"
        return watch.failed(f"{reason}: {tail}" if tail else reason, exit_code=code)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    # reap it so no zombie or open pipe is left behind by a cancelled probe
    await asyncio.shield(proc.wait())


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return shorten(lines[-1], 160) if lines else ""
