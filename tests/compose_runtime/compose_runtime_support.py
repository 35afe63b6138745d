"""Shared pieces of the compose-runtime tests: the engine handle, free ports, the project factory type."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from seawall.config import StackConfig
from seawall.runtime import ComposeRuntime


@dataclass(frozen=True)
class Engine:
    """The API socket the tests talk to and the image they run."""

    host: str
    image: str
    pid: int


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MakeProject = Callable[[str], tuple[StackConfig, ComposeRuntime]]
