"""Parsers for single compose service fields: ports, volumes, durations, healthcheck, restart, resources."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.config.compose_datastores import Mount
from seawall.config.interpolate import MissingVariable, interpolate_text

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ADDRESS_NAME = re.compile(r"(HOST|HOSTNAME|ADDR|ADDRESS|URL|URI|DSN|ENDPOINT|SERVER|SERVERS)$")
# compose sizes are binary whatever the case: "512m" is 512 MiB
_COMPOSE_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$", re.IGNORECASE)


def go_duration(value: object) -> float:
    """Seconds from a compose duration: "1m30s", "500ms", "10s", or a bare number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text or _GO_DURATION.sub("", text):
        raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '1m30s', '500ms'")
    return sum(float(n) * _GO_UNITS[u] for n, u in _GO_DURATION.findall(text))


def seawall_duration(seconds: float) -> str:
    """A duration as seawall.yaml writes it: "500ms", "30s", "5m", "2h" (never lossy)."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def compose_size(value: object) -> str | int:
    """A compose memory size ("512m", "1g", bytes) as a seawall size ("512Mi", "1Gi")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _COMPOSE_SIZE.match(str(value))
    if not match:
        raise ValueError(f"invalid size {value!r}: use e.g. '512m', '1g'")
    number, unit = match.group(1), match.group(2).lower()
    return f"{number}{unit.upper()}i" if unit and unit != "b" else int(float(number))


def split_outside_braces(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` except inside ``${...}`` (``${PORT:-8080}:80`` has two parts)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(0, depth - 1)
        if char == sep and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


@dataclass(frozen=True)
class Port:
    """One published port: the host side as written (maybe ``${VAR:-8080}``) and as a number."""

    host_ip: str
    host: str | None
    host_number: int | None
    container: int
    protocol: str = "tcp"


def _range(text: str) -> list[int]:
    low, _, high = text.partition("-")
    if not low.strip().isdigit() or (high and not high.strip().isdigit()):
        raise ValueError(f"invalid port {text!r}")
    return list(range(int(low), int(high or low) + 1))


def _resolve(expr: str, env: Mapping[str, str]) -> str | None:
    try:
        return interpolate_text(expr, env)
    except MissingVariable:
        return None


def parse_port(entry: object, env: Mapping[str, str]) -> list[Port]:
    """The ports of one compose `ports` entry, short ("127.0.0.1:8080:80/tcp") or long syntax."""
    if isinstance(entry, Mapping):
        target = entry.get("target")
        if target is None:
            raise ValueError("a long-syntax port needs a target")
        published = entry.get("published")
        host = None if published in (None, "") else str(published)
        return _pair(
            str(entry.get("host_ip") or ""), host, str(target), str(entry.get("protocol") or "tcp"), env
        )
    if isinstance(entry, bool) or not isinstance(entry, int | str):
        raise ValueError(f"invalid port {entry!r}")
    text, _, protocol = str(entry).partition("/")
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        host_ip, _, text = text[1:].partition("]")
        host_ip, text = f"[{host_ip}]", text.removeprefix(":")
    parts = split_outside_braces(text, ":")
    if len(parts) == 3:
        host_ip, parts = parts[0], parts[1:]
    if len(parts) > 2:
        raise ValueError(f"invalid port {entry!r}")
    host = parts[0] if len(parts) == 2 and parts[0] else None
    return _pair(host_ip, host, parts[-1], protocol or "tcp", env)


def _pair(
    host_ip: str, host: str | None, container: str, protocol: str, env: Mapping[str, str]
) -> list[Port]:
    containers = _range(_resolve(container, env) or container)
    if host is None:
        return [Port(host_ip, None, None, c, protocol) for c in containers]
    resolved = _resolve(host, env)
    if resolved is None:
        return [Port(host_ip, host, None, c, protocol) for c in containers]
    hosts = _range(resolved)
    if len(hosts) == len(containers):
        exprs = [host if len(hosts) == 1 else str(h) for h in hosts]
        return [Port(host_ip, e, h, c, protocol) for e, h, c in zip(exprs, hosts, containers, strict=True)]
    if len(containers) == 1:  # a host range for one container port: compose picks one of them
        return [Port(host_ip, str(hosts[0]), hosts[0], containers[0], protocol)]
    raise ValueError(f"port ranges of different lengths: {host}:{container}")


def parse_volume(entry: object) -> Mount | None:
    """One compose `volumes` entry of a service; tmpfs and npipe mounts hold no data: None."""
    if isinstance(entry, Mapping):
        kind = str(entry.get("type") or "volume")
        target = str(entry.get("target") or "")
        if not target:
            raise ValueError("a long-syntax volume needs a target")
        source = str(entry.get("source") or "")
        read_only = bool(entry.get("read_only"))
        if kind == "bind":
            return Mount("bind", source, target, read_only)
        if kind == "volume":
            return Mount("volume" if source else "anonymous", source, target, read_only)
        return None
    if not isinstance(entry, str):
        raise ValueError(f"invalid volume {entry!r}")
    parts = split_outside_braces(entry, ":")
    if len(parts) == 1:
        return Mount("anonymous", "", parts[0])
    source, target = parts[0], parts[1]
    read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    is_path = source.startswith((".", "/", "~", "$")) or "/" in source
    return Mount("bind" if is_path else "volume", source, target, read_only)


def volume_text(mount: Mount) -> str:
    """A mount in compose short syntax, as component `volumes` lists it."""
    if mount.kind == "anonymous":
        return mount.target
    return f"{mount.source}:{mount.target}" + (":ro" if mount.read_only else "")


def argv_of(value: object, what: str) -> list[str]:
    """A compose command/entrypoint (string or list) as an argv list."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"invalid {what} {value!r}: {exc}") from None
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ValueError(f"{what} must be a string or a list")


@dataclass(frozen=True)
class Healthcheck:
    """A compose healthcheck: the argv it runs in the container, and its probe timing."""

    argv: list[str]
    timing: dict[str, Any]


def parse_healthcheck(value: object) -> Healthcheck | None:
    """A compose healthcheck, or None when it is absent or disabled."""
    if not isinstance(value, Mapping) or value.get("disable") is True:
        return None
    test = value.get("test")
    if test is None:
        return None
    if isinstance(test, str):
        argv = ["sh", "-c", test]
    elif isinstance(test, list) and test:
        head, rest = str(test[0]), [str(t) for t in test[1:]]
        if head == "NONE":
            return None
        if head == "CMD-SHELL":
            argv = ["sh", "-c", " ".join(rest)]
        elif head == "CMD":
            argv = rest
        else:
            raise ValueError("healthcheck test must start with CMD, CMD-SHELL or NONE")
    else:
        raise ValueError("healthcheck test must be a string or a list")
    timing: dict[str, Any] = {}
    for key, out in (("interval", "period"), ("timeout", "timeout"), ("start_period", "initial_delay")):
        if value.get(key) is not None:
            seconds = go_duration(value[key])
            if seconds > 0 or out == "initial_delay":
                timing[out] = seawall_duration(seconds)
    retries = value.get("retries")
    if isinstance(retries, int) and not isinstance(retries, bool) and retries >= 1:
        timing["failure_threshold"] = retries
    return Healthcheck(argv, timing)


def restart_policy(restart: object, deploy: Mapping[str, Any]) -> dict[str, Any]:
    """`restart` (or `deploy.restart_policy`) as a seawall restart block; compose's default is "no"."""
    policy = deploy.get("restart_policy") if isinstance(deploy, Mapping) else None
    if restart is None and isinstance(policy, Mapping):
        condition = str(policy.get("condition") or "any")
        out: dict[str, Any] = {"policy": {"none": "no", "on-failure": "on-failure"}.get(condition, "always")}
        attempts = policy.get("max_attempts")
        out["max_retries"] = attempts if isinstance(attempts, int) and attempts > 0 else None
        if policy.get("delay") is not None:
            out["backoff"] = {"initial": seawall_duration(go_duration(policy["delay"]))}
        if policy.get("window") is not None:
            out["reset_after"] = seawall_duration(go_duration(policy["window"]))
        return out
    text = "no" if restart is None or restart is False else str(restart)
    if text == "no":
        return {"policy": "no"}
    if text in ("always", "unless-stopped"):  # docker restarts these forever
        return {"policy": "always", "max_retries": None}
    if text == "on-failure":
        return {"policy": "on-failure", "max_retries": None}
    name, _, count = text.partition(":")
    if name == "on-failure" and count.isdigit():
        return {"policy": "on-failure", "max_retries": int(count)}
    raise ValueError(f"invalid restart {restart!r}: use no, always, on-failure[:N] or unless-stopped")


def resources(service: Mapping[str, Any]) -> dict[str, Any]:
    """Memory and CPU limits from `deploy.resources.limits`, `mem_limit` and `cpus`."""
    deploy = service.get("deploy")
    limits: Mapping[str, Any] = {}
    if isinstance(deploy, Mapping) and isinstance(deploy.get("resources"), Mapping):
        limits = deploy["resources"].get("limits") or {}
    out: dict[str, Any] = {}
    memory = limits.get("memory", service.get("mem_limit"))
    if memory is not None:
        out["memory"] = compose_size(memory)
    cpus = limits.get("cpus", service.get("cpus"))
    if cpus is not None:
        try:
            number = float(cpus)
        except ValueError:
            raise ValueError(f"invalid cpus {cpus!r}") from None
        if number > 0:
            out["cpus"] = number
    return out


def service_edges(name: str, raw_env: Mapping[str, str | None], enabled: Mapping[str, Any]) -> dict[str, str]:
    """Other services this one addresses by host name, and the variable that holds the address."""
    edges: dict[str, str] = {}
    for var, value in raw_env.items():
        if not value:
            continue
        for other in enabled:
            if other == name or other in edges:
                continue
            in_url = "://" in value and re.search(rf"(//|@){re.escape(other)}(?=[:/?]|$)", value)
            as_host = _ADDRESS_NAME.search(var.upper()) and re.fullmatch(rf"{re.escape(other)}(:\d+)?", value)
            if in_url or as_host:
                edges[other] = var
    return edges


def stack_name_of(explicit: str | None, declared: object, path: Path, dotenv: Mapping[str, str]) -> str:
    """The stack's name: given, else compose's top-level `name`, else the compose directory's name."""
    name = explicit
    if name is None and isinstance(declared, str):
        try:
            name = interpolate_text(declared, dotenv)
        except MissingVariable:
            name = None
    if name is None:
        name = path.resolve().parent.name
    # compose's own normalisation of project names: lower case, letters, digits, - and _
    clean = re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-_.")[:63]
    return clean or "stack"
