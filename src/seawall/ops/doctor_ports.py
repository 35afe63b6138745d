"""Doctor's port check: a port the stack binds must be free or held by its own component."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from seawall.config import StackConfig
from seawall.errors import SeawallError
from seawall.ops.doctor_checks import Check
from seawall.runtime import Runtime

UNKNOWN_HINT = "run `ss -ltnp` as root to see which process it is"


@dataclass(frozen=True, slots=True)
class Holder:
    """A process listening on a port; pid None when the OS does not let us see whose socket it is."""

    pid: int | None
    name: str | None = None

    def describe(self) -> str:
        """'nginx (pid 1234)', 'pid 1234' or 'an unknown process'."""
        if self.pid is None:
            return "an unknown process"
        return f"{self.name} (pid {self.pid})" if self.name else f"pid {self.pid}"


def port_verdict(
    port: int, component: str, holders: list[Holder], own: set[int], others: Mapping[int, str]
) -> Check:
    """Judge one port: free or held by the component itself passes; anything else fails and says who."""
    name = f"port {port} ({component})"
    if not holders:
        return Check(name, "ok", f"port {port} is free")
    if all(h.pid is not None and h.pid in own for h in holders):
        pids = ", ".join(str(h.pid) for h in holders)
        return Check(name, "ok", f"port {port} is held by {component} itself (pid {pids})")
    stranger = next(h for h in holders if h.pid is None or h.pid not in own)
    if stranger.pid is not None and stranger.pid in others:
        other = others[stranger.pid]
        return Check(
            name,
            "fail",
            f"port {port} is held by {other} (pid {stranger.pid}), another component of this stack",
            f"two components cannot bind the same port: change the port of {component} or {other}",
        )
    hint = UNKNOWN_HINT if stranger.pid is None else f"stop it, or give {component} another port"
    return Check(name, "fail", f"port {port} is held by {stranger.describe()}", hint)


def listening(ports: set[int]) -> dict[int, list[Holder]]:
    """Who listens on each of ``ports`` (TCP, IPv4 and IPv6); an empty list means free."""
    found: dict[int, list[Holder]] = {p: [] for p in ports}
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        conns = []  # e.g. macOS without root: fall back to trying to bind each port
    for conn in conns:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port not in found:
            continue
        holders = found[conn.laddr.port]
        if all(h.pid != conn.pid for h in holders):
            holders.append(Holder(conn.pid, _process_name(conn.pid)))
    for port, holders in found.items():
        if not holders and not bindable(port):
            holders.append(Holder(None))
    return found


def bindable(port: int) -> bool:
    """Whether this process could bind ``port`` on every interface and on loopback right now."""
    for host in ("0.0.0.0", "127.0.0.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # a socket in TIME_WAIT does not stop a server from binding, so it must not stop us
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                # a privileged port refuses us before the kernel looks for a holder: that says nothing
                # about who holds it, and the listener table above has already been consulted
                return exc.errno == errno.EACCES
    return True


def _process_name(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return None


def family(pid: int) -> set[int]:
    """``pid`` and all its descendants (a component may listen from a worker process)."""
    try:
        proc = psutil.Process(pid)
        return {pid, *(child.pid for child in proc.children(recursive=True))}
    except psutil.Error:
        return {pid}


def port_checks(stack: StackConfig, runtime: Runtime | None) -> list[Check]:
    """One check per port a component declares."""
    with_ports = [n for n, c in stack.components.items() if c.ports]
    if not with_ports:
        return []
    pids: dict[str, int] = {}
    if runtime is not None:
        with contextlib.suppress(SeawallError):  # no runtime answer: every holder is a stranger
            pids = {s.name: s.pid for s in runtime.status(with_ports) if s.pid is not None and s.alive}
    families = {name: family(pid) for name, pid in pids.items()}
    owner_of = {pid: name for name, fam in families.items() for pid in fam}
    holders = listening({p for n in with_ports for p in stack.components[n].ports})
    checks: list[Check] = []
    for name in with_ports:
        own = families.get(name, set())
        others = {pid: owner for pid, owner in owner_of.items() if owner != name}
        checks.extend(port_verdict(p, name, holders[p], own, others) for p in stack.components[name].ports)
    return checks
