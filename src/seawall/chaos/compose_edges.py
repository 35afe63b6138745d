"""Network faults on a compose edge: a host-side fault proxy, and an override routing the caller to it.

A compose service reaches another at the ``host:port`` in one env var (``edges: {callee: VAR}``,
imported from the compose file). A network fault on ``caller->callee`` of a compose stack first
routes that edge (``EdgeRouter.route``), then adds its toxic; its inverse removes the toxic, then
releases the route (``EdgeRouter.release``). Routing:

1. the stack's fault proxy runs on the host, detached (``python -m seawall.cli proxy``), its control
   API on 127.0.0.1 at the port kept in ``<state>/compose-edges.json`` (reserved when a run is
   planned, so the ledger's inverses name it); it starts with the first route and stops with the last;
2. a listener for the edge on the gateway of the caller's network (the host's address on the
   project's bridge, which the containers reach), forwarding to the callee as the host reaches it:
   its port published on the host, else its address on the project network;
3. ``<state>/compose-edges/<caller>_to_<callee>.yaml``, an override setting the caller's variable
   to the listener, and the caller recreated (``up --no-deps --force-recreate``) with it.

Release undoes it. Routes are held per toxic (faults stacked on one edge share one); the state is
written before the engine changes and every step is idempotent, so `chaos restore` after a SIGKILL
finishes whatever was half done.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from seawall.chaos.edges import find_address, proxy_name
from seawall.chaos.faults.base import FaultContext, InjectionFailed, RestoreFailed
from seawall.chaos.faults.network import call_api
from seawall.config import StackConfig
from seawall.errors import SeawallError
from seawall.runtime._edges import free_ports
from seawall.runtime.compose import ComposeRuntime

STATE_FILE = "compose-edges.json"
LOCK_FILE = "compose-edges.lock"
OVERRIDE_DIR = "compose-edges"
PROXY_LOG = "compose-proxy.log"
HOST = "127.0.0.1"
PROXY_START = 15.0  # seconds for a new proxy process to answer its API
PROXY_STOP = 10.0  # seconds for it to exit on SIGTERM before SIGKILL
_LIVE = ("running", "paused", "restarting")
# proxy processes this interpreter started, kept so they are reaped (and Popen never warns)
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def has_compose_edges(stack: StackConfig) -> bool:
    """A compose stack that declares at least one edge."""
    return stack.runtime == "compose" and any(spec.edges for spec in stack.components.values())


def _read(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(state_dir: Path, data: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (STATE_FILE + ".tmp")
    with open(tmp, "w") as out:
        out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(state_dir / STATE_FILE)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """One router at a time per stack (`chaos panic` releases routes from several threads)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _api(port: int) -> str:
    return f"http://{HOST}:{port}"


def routed_api(stack: StackConfig) -> str | None:
    """The control API of the stack's compose edge proxy, if one was ever reserved (no side effect)."""
    port = _read(stack.state_dir).get("api_port")
    return _api(port) if isinstance(port, int) else None


def compose_proxy_api(stack: StackConfig) -> str | None:
    """The control API network faults on this compose stack's edges go to, reserving its port once.

    None when the stack is not a compose stack with edges. The port is kept in compose-edges.json,
    so it is known when a run is planned (and written into each inverse), before any proxy runs.
    """
    if not has_compose_edges(stack):
        return None
    with _locked(stack.state_dir):
        state = _read(stack.state_dir)
        if not isinstance(state.get("api_port"), int):
            state["api_port"] = free_ports(1, set())[0]
            _write(stack.state_dir, state)
        return _api(int(state["api_port"]))


def router_for(ctx: FaultContext, api: str) -> EdgeRouter | None:
    """The router when ``api`` is this compose stack's own edge proxy (another proxy: the user routes)."""
    if not has_compose_edges(ctx.stack) or routed_api(ctx.stack) != api.rstrip("/"):
        return None
    runtime = ctx.runtime
    if not isinstance(runtime, ComposeRuntime):
        return None
    return EdgeRouter(runtime)


class EdgeRouter:
    """Routes compose edges through the stack's host-side fault proxy, and takes them out again."""

    def __init__(self, runtime: ComposeRuntime) -> None:
        self.runtime = runtime
        self.stack = runtime.stack
        self.state_dir = runtime.stack.state_dir

    def route(self, caller: str, callee: str, holder: str) -> str:
        """Make ``caller`` reach ``callee`` through the proxy (proxy name ``caller_to_callee``)."""
        name = proxy_name(caller, callee)
        try:
            with _locked(self.state_dir):
                state = _read(self.state_dir)
                routes: dict[str, Any] = state.setdefault("routes", {})
                route = routes.get(name)
                if route is not None:
                    # another fault holds it already (or a crash left it): make sure it still carries
                    self._ensure_proxy(state)
                    self._ensure_listener(state, name, route)
                    if holder not in route["holders"]:
                        route["holders"].append(holder)
                    _write(self.state_dir, state)
                    return f"{caller}->{callee} routed through {route['listen']}"
                spec = self.stack.components.get(caller)
                var = None if spec is None else spec.edges.get(callee)
                if var is None:
                    raise InjectionFailed(f"the stack declares no edge {caller}->{callee}")
                gateway, upstream, original, span = self._plan(caller, callee, var)
                self._ensure_proxy(state)
                listen = self._ensure_listener(state, name, {"listen": f"{gateway}:0", "upstream": upstream})
                override = self.state_dir / OVERRIDE_DIR / f"{name}.yaml"
                value = original[: span[0]] + listen + original[span[1] :]
                routes[name] = {
                    "caller": caller,
                    "callee": callee,
                    "env_var": var,
                    "original": original,
                    "value": value,
                    "listen": listen,
                    "upstream": upstream,
                    "override": str(override),
                    "holders": [holder],
                }
                # files first, engine second: a crash in between leaves what release needs to undo it
                _write_override(override, caller, var, value)
                _write(self.state_dir, state)
                self.runtime.recreate(caller, self._overrides(routes, caller))
        except InjectionFailed:
            raise
        except (SeawallError, OSError) as exc:
            message = exc.message if isinstance(exc, SeawallError) else str(exc)
            raise InjectionFailed(f"cannot route edge {caller}->{callee}: {message}") from exc
        return f"{caller} recreated with {var}={value} (proxy {listen} -> {upstream})"

    def release(self, name: str, holder: str) -> str:
        """Drop ``holder``'s hold on the route ``name``; the last one out takes the route away."""
        try:
            with _locked(self.state_dir):
                state = _read(self.state_dir)
                routes: dict[str, Any] = state.setdefault("routes", {})
                route = routes.get(name)
                if route is None:
                    detail = f"edge {name} is not routed"
                else:
                    if holder in route["holders"]:
                        route["holders"].remove(holder)
                    if route["holders"]:
                        _write(self.state_dir, state)
                        return f"edge {name} stays routed for {len(route['holders'])} other fault(s)"
                    Path(route["override"]).unlink(missing_ok=True)
                    caller = str(route["caller"])
                    others = {k: v for k, v in routes.items() if k != name}
                    if self._has_container(caller):
                        self.runtime.recreate(caller, self._overrides(others, caller))
                    del routes[name]
                    _write(self.state_dir, state)
                    _delete_listener(state, name)
                    detail = f"{caller} recreated with {route['env_var']}={route['original']}"
                if not routes:
                    self._stop_proxy(state)
                    _write(self.state_dir, state)
                return detail
        except RestoreFailed:
            raise
        except (SeawallError, OSError) as exc:
            message = exc.message if isinstance(exc, SeawallError) else str(exc)
            raise RestoreFailed(f"cannot take the route of edge {name} out: {message}") from exc

    def _plan(self, caller: str, callee: str, var: str) -> tuple[str, str, str, tuple[int, int]]:
        """(listener host, upstream host:port, the variable's value as compose gives it, its address)."""
        services = self.runtime.config().get("services") or {}
        environment = (services.get(caller) or {}).get("environment") or {}
        original = environment.get(var)
        if not isinstance(original, str):
            raise InjectionFailed(f"edge {caller}->{callee}: compose gives {caller!r} no variable {var}")
        span = find_address(original)
        if span is None:
            raise InjectionFailed(f"edge {caller}->{callee}: no host:port in {var}={original!r}")
        host, _, port = original[span[0] : span[1]].rpartition(":")
        caller_networks = self._networks(caller)
        if not caller_networks:
            raise InjectionFailed(
                f"edge {caller}->{callee}: {caller!r} has no running container on a bridge network",
                hint="network faults on compose edges need the caller on a network with a gateway "
                "(not network_mode: host/none)",
            )
        upstream = self._upstream(host.strip("[]"), int(port), services, caller_networks)
        callee_networks = self._networks(callee) if callee in services else {}
        shared = [n for n in caller_networks if n in callee_networks] or list(caller_networks)
        return caller_networks[shared[0]]["Gateway"], upstream, original, span

    def _container(self, service: str) -> dict[str, Any] | None:
        for entry in self.runtime.cli.ps():
            if entry.get("Service") == service:
                return self.runtime.api_inspect(str(entry.get("ID") or entry.get("Name")))
        return None

    def _has_container(self, service: str) -> bool:
        return any(entry.get("Service") == service for entry in self.runtime.cli.ps())

    def _networks(self, service: str) -> dict[str, dict[str, Any]]:
        data = self._container(service) or {}
        if (data.get("State") or {}).get("Status") not in _LIVE:
            return {}
        networks = (data.get("NetworkSettings") or {}).get("Networks") or {}
        return {str(k): v for k, v in networks.items() if isinstance(v, dict) and v.get("Gateway")}

    def _upstream(
        self, host: str, port: int, services: dict[str, Any], caller_networks: dict[str, dict[str, Any]]
    ) -> str:
        """The callee's address as the host reaches it."""
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            return f"{host}:{port}"  # rootful bridge networks: the host reaches container addresses
        if host not in services:
            raise InjectionFailed(
                f"the host cannot reach {host!r} as the caller does: "
                "address the callee by its service name or an IP address"
            )
        data = self._container(host) or {}
        settings = data.get("NetworkSettings") or {}
        for binding in (settings.get("Ports") or {}).get(f"{port}/tcp") or []:
            if binding.get("HostPort") and binding.get("HostIp", "") in ("", "0.0.0.0", HOST):
                return f"{HOST}:{binding['HostPort']}"
        networks = settings.get("Networks") or {}
        ordered = [n for n in networks if n in caller_networks] + [
            n for n in networks if n not in caller_networks
        ]
        for network in ordered:
            address = (networks[network] or {}).get("IPAddress")
            if address:
                return f"{address}:{port}"
        raise InjectionFailed(f"service {host!r} has no running container with an address to forward to")

    @staticmethod
    def _overrides(routes: dict[str, Any], caller: str) -> list[Path]:
        return [Path(r["override"]) for _, r in sorted(routes.items()) if r["caller"] == caller]

    def _ensure_proxy(self, state: dict[str, Any]) -> None:
        if _proxy_alive(state):
            return
        port = state.get("api_port")
        if not isinstance(port, int):
            port = state["api_port"] = free_ports(1, set())[0]
        log_path = self.state_dir / PROXY_LOG
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "seawall.cli", "proxy", "--host", HOST, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the runner (and its Ctrl-C) until the last release
            )
        _CHILDREN[proc.pid] = proc
        deadline = time.monotonic() + PROXY_START
        while True:
            try:
                status, _ = call_api(_api(port), "GET", "/version")
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                _reap(proc.pid)
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise InjectionFailed(
                    f"the compose edge proxy did not start on {_api(port)}: {' '.join(tail) or 'no output'}"
                )
            time.sleep(0.05)
        state["proxy"] = {"pid": proc.pid, "created": psutil.Process(proc.pid).create_time()}
        _write(self.state_dir, state)

    def _ensure_listener(self, state: dict[str, Any], name: str, route: dict[str, Any]) -> str:
        """The proxy ``name`` listening as the route says; returns its bound address."""
        api = _api(int(state["api_port"]))
        status, body = call_api(api, "GET", f"/proxies/{name}")
        if status == 200 and isinstance(body, dict) and body.get("upstream") == route["upstream"]:
            return str(body["listen"])
        if status == 200:
            call_api(api, "DELETE", f"/proxies/{name}")
        proxy = {"name": name, "listen": route["listen"], "upstream": route["upstream"], "enabled": True}
        status, body = call_api(api, "POST", "/proxies", proxy)
        if status not in (200, 201) or not isinstance(body, dict):
            raise InjectionFailed(f"the compose edge proxy refused listener {name}: HTTP {status} {body}")
        return str(body["listen"])

    def _stop_proxy(self, state: dict[str, Any]) -> None:
        proxy = state.pop("proxy", None)
        if isinstance(proxy, dict) and _proxy_alive({"proxy": proxy}):
            pid = int(proxy["pid"])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                psutil.Process(pid).wait(PROXY_STOP)
            except psutil.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
            _reap(pid)


def _proxy_alive(state: dict[str, Any]) -> bool:
    """The proxy process recorded in the state still runs (same pid, same start time)."""
    proxy = state.get("proxy")
    if not isinstance(proxy, dict) or not isinstance(proxy.get("pid"), int):
        return False
    try:
        process = psutil.Process(proxy["pid"])
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - proxy["created"]) < 1
    except (psutil.Error, TypeError):
        return False


def _reap(pid: int) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _delete_listener(state: dict[str, Any], name: str) -> None:
    if _proxy_alive(state):
        with contextlib.suppress(OSError):  # the proxy stopping anyway closes it too
            call_api(_api(int(state["api_port"])), "DELETE", f"/proxies/{name}")


def _write_override(path: Path, caller: str, var: str, value: str) -> None:
    """The compose override: JSON, which is YAML; ``$`` escaped, the value is already interpolated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"services": {caller: {"environment": {var: value.replace("$", "$$")}}}}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        "# written by Seawall: routes an edge through the fault proxy; removed with the fault\n"
        + json.dumps(body, indent=2)
        + "\n"
    )
    tmp.replace(path)


__all__ = [
    "OVERRIDE_DIR",
    "STATE_FILE",
    "EdgeRouter",
    "compose_proxy_api",
    "has_compose_edges",
    "routed_api",
    "router_for",
]
