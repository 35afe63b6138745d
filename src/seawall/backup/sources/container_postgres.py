"""PostgreSQL in a compose service: the client tools of the database's own container, when the host has none.

Everything but the client tools is the host datastore's: Seawall connects to the URL (a published
port) for the exported snapshot, the LSN, the fingerprint and to recreate the database. Only
``pg_dump`` / ``pg_restore`` change place when this machine has none of the server's major version:
they run in the service's container through a streaming exec (the dump streams out of the docker
CLI's stdout, the restore streams into its stdin; the docker CLI's exit status is the tool's).
Inside, they connect through the server's default unix socket (port 5432 of the container) with
the URL's user, password and database; the password is passed by name from the docker CLI's
environment (``--env PGPASSWORD``), never in an argv. Parallel jobs (the directory format) need the
host's tools: the directory is staged on this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from seawall.backup.errors import BackupError
from seawall.backup.procs import run_tool
from seawall.backup.sources.base import Target
from seawall.backup.sources.pg_client import client_tool, tool_env, tool_major
from seawall.backup.sources.postgres import PostgresDatastore
from seawall.errors import SeawallError

_INSIDE = ("PGHOST", "PGPORT")  # the URL's address is the host's view: inside, the default socket


def host_client(name: str, server_major: int) -> tuple[str, str] | None:
    """The host's client tool of the server's major version (or newer), or None."""
    try:
        return client_tool(name, server_major)
    except SeawallError:
        return None


class ContainerPostgresDatastore(PostgresDatastore):
    """A PostgreSQL datastore of a compose service; its tools run in its container if not on the host."""

    def client(
        self, target: Target, name: str, server_major: int, stdin: bool = False, on_host: bool = False
    ) -> tuple[list[str], str, dict[str, str]]:
        """The host's tool when it has one of the server's major version, else the container's.

        A tool that works on a directory of this machine (``on_host``: parallel jobs, the directory
        format) cannot run in the container, whose filesystem is not this one: that is an error.
        """
        assert target.url is not None
        if target.container is None:
            return super().client(target, name, server_major, stdin, on_host)
        found = host_client(name, server_major)
        if found is not None:
            return [found[0]], found[1], tool_env(target.url)
        if on_host:
            raise BackupError(
                f"parallel jobs (the directory format) need {name} of PostgreSQL {server_major} on this"
                f" machine: in the container of service {target.container.service} it would work on a"
                " directory Seawall cannot reach",
                hint=f"install postgresql-client-{server_major} here, or set the datastore's jobs to 1"
                " (the container's tools then stream the custom format)",
            )
        env = {k: v for k, v in tool_env(target.url).items() if k not in _INSIDE}
        engine, service = target.container.engine, target.container.service
        try:
            version = run_tool(engine.exec_argv(service, [name, "--version"])).strip()
        except SeawallError as exc:
            raise BackupError(
                f"{name} is neither on this machine (PostgreSQL {server_major}) nor in the container"
                f" of service {service}: {exc.message}",
                hint=f"install postgresql-client-{server_major} here, or use an image that has {name}",
            ) from exc
        if tool_major(version) < server_major:
            raise BackupError(f"{name} in service {service} is older than the server ({version})")
        prefix = engine.exec_argv(service, [name], interactive=stdin, env=sorted(env))
        return prefix, f"{version} (in service {service})", env

    @contextmanager
    def scratch(self, like: Target) -> Iterator[Target]:
        """A new database on the same server, restored with the same tools as the original."""
        with super().scratch(like) as target:
            yield replace(target, container=like.container)
