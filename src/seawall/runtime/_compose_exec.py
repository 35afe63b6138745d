"""Streaming exec into a compose service's container: the host command line whose pipes are the command's.

``ComposeRuntime.exec`` collects a command's output in memory; a dump of a database does not fit
there. ``exec_argv`` gives the command line instead (``docker exec [-i] [-e NAME]... CONTAINER
ARGV``): the caller runs it with its own pipes, reads stdout as it streams, and the exit status of
that host process is the command's. Only the docker CLI is used: compose's own exec reports exit
code 0 for every command on Podman 4.3, and a dump that "succeeds" after failing loses data.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence

from seawall.errors import RuntimeDriverError, ToolMissingError
from seawall.runtime._compose_cli import ComposeCli

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def running_container(cli: ComposeCli, service: str) -> str:
    """The name of the service's running container (the first, of several replicas)."""
    for container in cli.ps():
        if container.get("Service") == service and container.get("State") == "running":
            return str(container.get("Name") or container.get("ID"))
    raise RuntimeDriverError(
        f"cannot exec in component {service!r}: its container is not running",
        hint="start it (`seawall up`), or back it up from the host",
    )


def docker_exec_argv(
    container: str,
    argv: Sequence[str],
    *,
    interactive: bool = False,
    env: Sequence[str] = (),
    docker: str | None = None,
) -> list[str]:
    """``docker exec`` of ``argv`` in ``container``, without a TTY (bytes pass unchanged).

    ``env`` names variables passed from the docker CLI's own environment (``-e NAME``, no value):
    secrets reach the command without appearing in any argv.
    """
    for name in env:
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"not an environment variable name: {name!r}")
    cli = docker or shutil.which("docker")
    if cli is None:
        raise ToolMissingError(
            "streaming a command out of a container needs the docker CLI, which is not installed",
            hint="install the docker CLI (docker-ce-cli or docker.io); it talks to Podman's API too",
        )
    options = ["--interactive"] if interactive else []
    for name in env:
        options += ["--env", name]
    return [cli, "exec", *options, container, *argv]


def exec_argv(
    cli: ComposeCli, service: str, argv: Sequence[str], *, interactive: bool = False, env: Sequence[str] = ()
) -> list[str]:
    """The host command line that runs ``argv`` in the service's running container, streams attached."""
    docker = shutil.which("docker")
    if docker is None:  # before asking compose for the container: the same message either way
        docker_exec_argv("-", argv, env=env)
    return docker_exec_argv(
        running_container(cli, service), argv, interactive=interactive, env=env, docker=docker
    )
