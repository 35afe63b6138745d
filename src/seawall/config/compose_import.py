"""`seawall init --from docker-compose.yml`: a seawall.yaml data dict (and its text) from a compose file."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.config.compose_datastores import (
    Endpoint,
    Mount,
    build_datastore,
    container_port,
    recognise,
    redis_password,
)
from seawall.config.compose_env import SecretBook, import_environment, required_variables
from seawall.config.compose_fields import (
    Port,
    argv_of,
    parse_healthcheck,
    parse_port,
    parse_volume,
    resources,
    restart_policy,
    service_edges,
    stack_name_of,
    volume_text,
)
from seawall.config.compose_render import render_yaml
from seawall.config.loader import read_dotenv
from seawall.config.yamlfile import KeyPath, format_key, line_of, read_yaml
from seawall.errors import ConfigError

_CONDITIONS = {
    "service_started": "started",
    "service_healthy": "ready",
    "service_completed_successfully": "completed",
}
_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")


@dataclass
class ComposeImport:
    """The result of importing a compose file: seawall.yaml data, notes per component, warnings."""

    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""
    variables: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The seawall.yaml text, with the warnings and per-component notes as comments."""
        header = [f"Written by `seawall init --from {self.source}`; review it before use."]
        if self.variables:
            header.append("Set these in .env (never in this file): " + ", ".join(self.variables))
        header += [f"warning: {w}" for w in self.warnings]
        return render_yaml(self.data, notes=self.notes, header=header)


@dataclass
class _Context:
    """What every part of one import needs: the file, its line map, its .env and the secrets met."""

    path: Path
    lines: dict[KeyPath, int]
    dotenv: dict[str, str]
    compose_file: str = ""
    profiles: Sequence[str] = ()
    enabled: dict[str, Any] = field(default_factory=dict)
    book: SecretBook = field(default_factory=SecretBook)
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def error(self, message: str, keys: KeyPath, hint: str | None = None) -> ConfigError:
        return ConfigError(
            message, file=self.path, line=line_of(self.lines, keys), key=format_key(keys) or None, hint=hint
        )


@dataclass
class _Service:
    """One compose service on its way to a component."""

    name: str
    spec: dict[str, Any]
    raw_env: dict[str, str | None]
    env: dict[str, str]
    one_shot: bool
    argv: list[str] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)


def import_compose(
    path: Path,
    *,
    profiles: Sequence[str] = (),
    stack_name: str | None = None,
    output_dir: Path | None = None,
) -> ComposeImport:
    """Read a compose file and map it to seawall.yaml data (runtime: compose).

    ``profiles`` are the compose profiles to enable (services without profiles are always in);
    ``output_dir`` is where seawall.yaml will live (default: beside the compose file), so that
    ``compose_file`` can be written relative to it.
    """
    raw, lines = read_yaml(path)
    out_dir = output_dir if output_dir is not None else path.parent
    compose_file = Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
    ctx = _Context(path, lines, read_dotenv(path.parent), compose_file, tuple(profiles))
    if raw is None:
        raise ConfigError("the compose file is empty", file=path)
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping (key: value)", file=path, line=1)
    services = raw.get("services")
    if not isinstance(services, dict) or not services:
        raise ctx.error("the compose file defines no services", ("services",))
    for name, spec in services.items():
        if not isinstance(spec, dict):
            raise ctx.error("a service must be a mapping", ("services", name))
    ctx.enabled = {n: s for n, s in services.items() if _in_profiles(s, profiles)}
    if not ctx.enabled:
        raise ctx.error(f"no service is enabled with profiles {list(profiles)}", ("services",))
    _note_unfollowed(raw, ctx)
    completed = _completed_targets(services, ctx)
    # datastores first, so that a secret they share is named after the server that defines it
    order = sorted(ctx.enabled, key=lambda n: recognise(_image(ctx.enabled[n])) is None)
    found: dict[str, _Service] = {}
    for name in order:
        raw_env = _raw_environment(name, ctx.enabled[name], ctx)
        env = import_environment(name, raw_env, ctx.book)
        image = recognise(_image(ctx.enabled[name]))
        if image is not None and image.kind == "redis":  # name its password before clients use it
            redis_password(_argv(name, ctx.enabled[name], ctx), env, name, ctx.book)
        found[name] = _Service(name, ctx.enabled[name], raw_env, env, name in completed)
    components = {name: _component(found[name], ctx) for name in ctx.enabled}
    data: dict[str, Any] = {
        "stack": stack_name_of(stack_name, raw.get("name"), path, ctx.dotenv),
        "runtime": "compose",
        "compose_file": compose_file,
        "components": components,
    }
    variables = [v for v in required_variables(data) if v not in ctx.dotenv]
    return ComposeImport(data, ctx.warnings, ctx.notes, path.name, variables)


def _in_profiles(service: dict[str, Any], profiles: Sequence[str]) -> bool:
    wanted = service.get("profiles") or []
    return not wanted or "*" in profiles or any(p in profiles for p in wanted)


def _image(service: Mapping[str, Any]) -> str | None:
    image = service.get("image")
    return str(image) if image is not None else None


def _note_unfollowed(raw: dict[str, Any], ctx: _Context) -> None:
    """Warn about compose features that change the services but are not followed here."""
    if raw.get("include"):
        ctx.warnings.append("`include:` is not followed: the included files' services are missing")
    for name, svc in ctx.enabled.items():
        if svc.get("extends"):
            ctx.warnings.append(
                f"service {name} uses `extends`, which is not followed: its inherited settings are missing"
            )
    for override in (
        "compose.override.yaml",
        "compose.override.yml",
        "docker-compose.override.yml",
        "docker-compose.override.yaml",
    ):
        if (ctx.path.parent / override).is_file():
            ctx.warnings.append(f"{override} is not merged: import it separately or merge it by hand")


def _raw_environment(name: str, svc: dict[str, Any], ctx: _Context) -> dict[str, str | None]:
    """The container environment as compose builds it: env_file entries, then `environment`."""
    env: dict[str, str | None] = {}
    files = svc.get("env_file")
    entries = [files] if isinstance(files, str | dict) else files or []
    for index, entry in enumerate(entries):
        keys: KeyPath = ("services", name, "env_file") + ((index,) if isinstance(files, list) else ())
        file, required = (
            (entry.get("path"), entry.get("required", True)) if isinstance(entry, dict) else (entry, True)
        )
        if not isinstance(file, str):
            raise ctx.error("an env_file entry needs a path", keys)
        env_path = ctx.path.parent / file
        if not env_path.is_file():
            if required:
                raise ctx.error(
                    f"env file not found: {env_path}", keys, hint="create it, or mark it `required: false`"
                )
            continue
        from dotenv import dotenv_values

        env.update(dotenv_values(env_path, interpolate=False))
    environment = svc.get("environment")
    if isinstance(environment, dict):
        for key, value in environment.items():
            env[str(key)] = (
                None if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
            )
    elif isinstance(environment, list):
        for item in environment:
            key, sep, value = str(item).partition("=")
            env[key] = value if sep else None
    elif environment is not None:
        raise ctx.error("environment must be a mapping or a list", ("services", name, "environment"))
    return env


def _dependencies(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(d): {"condition": "service_started"} for d in deps}
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in deps.items()}


def _completed_targets(services: dict[str, Any], ctx: _Context) -> set[str]:
    """Check every depends_on, and return the services others wait to complete (one-shot jobs)."""
    targets: set[str] = set()
    for name, svc in ctx.enabled.items():
        for dep, spec in _dependencies(svc).items():
            keys: KeyPath = ("services", name, "depends_on", dep)
            condition = str(spec.get("condition") or "service_started")
            if condition not in _CONDITIONS:
                raise ctx.error(f"unknown depends_on condition {condition!r}", (*keys, "condition"))
            if dep not in services:
                raise ctx.error(f"service {name!r} depends on unknown service {dep!r}", keys)
            if dep not in ctx.enabled and spec.get("required", True) is not False:
                hint = (
                    f"enable one of its profiles: {', '.join(map(str, services[dep].get('profiles') or []))}"
                )
                raise ctx.error(
                    f"service {name!r} depends on {dep!r}, which no enabled profile includes", keys, hint
                )
            if condition == "service_completed_successfully":
                targets.add(dep)
    return targets


def _component(svc: _Service, ctx: _Context) -> dict[str, Any]:
    """The seawall.yaml component of one compose service."""
    spec, keys = svc.spec, ("services", svc.name)
    comp: dict[str, Any] = {}
    if (image := _image(spec)) is not None:
        comp["image"] = image
    try:
        restart = restart_policy(spec.get("restart"), spec.get("deploy") or {})
        limits = resources(spec)
    except ValueError as exc:
        raise ctx.error(str(exc), keys) from None
    svc.argv = _argv(svc.name, spec, ctx)
    if svc.env:
        comp["env"] = svc.env
    deps = {
        dep: {"condition": _CONDITIONS[str(dspec.get("condition") or "service_started")]}
        for dep, dspec in _dependencies(spec).items()
        if dep in ctx.enabled
    }
    if deps:
        comp["depends_on"] = deps
    svc.ports = _ports(svc.name, spec, ctx)
    # TCP only: these are the ports `doctor` checks are free before the stack starts
    numbers = list(dict.fromkeys(p.host_number for p in svc.ports if p.host_number and p.protocol == "tcp"))
    if numbers:
        comp["ports"] = numbers
    svc.mounts = _mounts(svc.name, spec, ctx)
    if svc.mounts:
        comp["volumes"] = [volume_text(m) for m in svc.mounts]
    if edges := service_edges(svc.name, svc.raw_env, ctx.enabled):
        comp["edges"] = edges
    probe, note = _probe(svc, comp, ctx)
    if probe is not None:
        comp["probes"] = {"ready": probe}
    if note:
        ctx.notes[svc.name] = [note]
    if svc.argv:  # scrubbed last: the datastore may have met a password in it (redis --requirepass)
        comp["command"] = ctx.book.scrub_argv(svc.argv)
    if svc.one_shot and restart["policy"] == "always":
        ctx.warnings.append(
            f"service {svc.name} is a one-shot job but restarts always; imported with restart: no"
        )
        restart = {"policy": "no"}
    comp["restart"] = restart
    if limits:
        comp["resources"] = limits
    if svc.one_shot:
        comp["one_shot"] = True
    return comp


def _argv(name: str, spec: dict[str, Any], ctx: _Context) -> list[str]:
    """entrypoint + command: compose's entrypoint clears the image's default command."""
    try:
        return argv_of(spec.get("entrypoint"), "entrypoint") + argv_of(spec.get("command"), "command")
    except ValueError as exc:
        raise ctx.error(str(exc), ("services", name)) from None


def _ports(name: str, svc: dict[str, Any], ctx: _Context) -> list[Port]:
    out: list[Port] = []
    for index, entry in enumerate(svc.get("ports") or []):
        try:
            ports = parse_port(entry, ctx.dotenv)
        except ValueError as exc:
            raise ctx.error(str(exc), ("services", name, "ports", index)) from None
        for port in ports:
            if port.host is not None and port.host_number is None:
                ctx.warnings.append(
                    f"service {name} publishes port {port.host}, which has no value here: "
                    "it is left out of `ports` and of tcp probes"
                )
        out += ports
    return out


def _mounts(name: str, svc: dict[str, Any], ctx: _Context) -> list[Mount]:
    out: list[Mount] = []
    for index, entry in enumerate(svc.get("volumes") or []):
        try:
            mount = parse_volume(entry)
        except ValueError as exc:
            raise ctx.error(str(exc), ("services", name, "volumes", index)) from None
        if mount is not None:
            out.append(mount)
    return out


def _endpoint(name: str, ports: list[Port], wanted: int) -> Endpoint:
    """Where the host reaches container port ``wanted``; the service name when it is not published."""
    for port in ports:
        if port.container == wanted and port.host is not None and port.protocol == "tcp":
            host = "127.0.0.1" if port.host_ip in _ANY_ADDRESS else port.host_ip
            return Endpoint(host, port.host, port.host_number, True)
    return Endpoint(name, str(wanted), wanted, False)


def _probe(svc: _Service, comp: dict[str, Any], ctx: _Context) -> tuple[dict[str, Any] | None, str | None]:
    """The component's ready probe (and a note on where it came from), filling in its datastore."""
    try:
        check = parse_healthcheck(svc.spec.get("healthcheck"))
    except ValueError as exc:
        raise ctx.error(str(exc), ("services", svc.name, "healthcheck")) from None
    timing = check.timing if check else {}
    image = recognise(_image(svc.spec))
    if image is not None:
        endpoint = _endpoint(svc.name, svc.ports, container_port(image, svc.argv))
        store = build_datastore(
            svc.name, image, env=svc.env, argv=svc.argv, endpoint=endpoint, mounts=svc.mounts, book=ctx.book
        )
        comp["datastore"] = store.spec
        ctx.warnings += store.warnings
        if store.probe is not None and not svc.one_shot:
            return {
                **store.probe,
                **timing,
            }, f"ready probe: Seawall's own {image.kind} check on the published port"
    hc = svc.spec.get("healthcheck")
    disabled = isinstance(hc, dict) and (hc.get("disable") is True or hc.get("test") == ["NONE"])
    if svc.one_shot or disabled:
        return None, None
    published = next((p for p in svc.ports if p.host_number is not None and p.protocol == "tcp"), None)
    if published is not None:
        host = "127.0.0.1" if published.host_ip in _ANY_ADDRESS else published.host_ip.strip("[]")
        tcp: dict[str, Any] = {"host": host, "port": published.host_number}
        note = "ready probe: a TCP connect to the first published port"
        if check is not None:
            note += "; the compose healthcheck stays in the container"
        return {"tcp": tcp, **timing}, note
    if check is None:
        return None, None
    selected = [f"--profile={p}" for p in svc.spec.get("profiles") or [] if p in ctx.profiles]
    docker = ["docker", "compose", "-f", ctx.compose_file, *selected, "exec", "-T", svc.name]
    probe = {"command": docker + ctx.book.scrub_argv(check.argv), **timing}
    return probe, "ready probe: the compose healthcheck, run in the container (no port is published)"


__all__ = ["ComposeImport", "import_compose", "render_yaml"]
