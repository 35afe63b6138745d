"""A minimal Docker Engine API client (unix socket or plain tcp), found as the docker CLI finds the engine."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from seawall.errors import DaemonUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT = 15.0


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over an AF_UNIX stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _context_host(config_dir: Path, name: str) -> str | None:
    # the CLI stores each context under the sha256 of its name
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    host = data.get("Endpoints", {}).get("docker", {}).get("Host")
    return str(host) if host else None


def engine_host(environ: dict[str, str] | None = None) -> str:
    """The engine endpoint, in the docker CLI's order: DOCKER_HOST, DOCKER_CONTEXT, current context."""
    env = dict(os.environ) if environ is None else environ
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    config_dir = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME", "~")).expanduser() / ".docker")
    context = env.get("DOCKER_CONTEXT")
    if not context:
        try:
            context = json.loads((config_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            context = None
    if context and context != "default":
        host = _context_host(config_dir, context)
        if host:
            return host
    return DEFAULT_HOST


class EngineApi:
    """Requests to the engine's Docker API (reads, and the odd action compose gets wrong); failures raise."""

    def __init__(self, host: str | None = None, timeout: float = API_TIMEOUT) -> None:
        self.host = host or engine_host()
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        url = urlsplit(self.host)
        if url.scheme == "unix":
            return _UnixConnection(url.path, self.timeout)
        if url.scheme in ("tcp", "http") and url.hostname:
            # TLS endpoints (DOCKER_TLS_VERIFY) need the CLI's certificates: not read here
            return http.client.HTTPConnection(url.hostname, url.port or 2375, timeout=self.timeout)
        raise DaemonUnavailable(
            f"the engine endpoint {self.host} is not one Seawall can query directly (unix:// or tcp://)",
            hint="point DOCKER_HOST at the engine's unix socket or a plain tcp:// endpoint",
        )

    def get(self, path: str, method: str = "GET") -> Any:
        """The decoded JSON body of ``GET path`` (or another method); None for 404."""
        conn = self._connection()
        try:
            conn.request(method, path, headers={"Host": "docker"})
            response = conn.getresponse()
            body = response.read()
        except OSError as exc:
            raise DaemonUnavailable(f"the container engine at {self.host} does not answer: {exc}") from exc
        finally:
            conn.close()
        if response.status == 404:
            return None
        if response.status >= 400:
            raise DaemonUnavailable(
                f"the container engine answered {response.status} to {method} {path}: {body[:200]!r}"
            )
        if not body or path.endswith("/_ping"):
            return body.decode(errors="replace")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise DaemonUnavailable(f"the container engine sent invalid JSON for {method} {path}") from exc

    def ping(self) -> None:
        """Raise DaemonUnavailable unless the engine answers."""
        self.get("/_ping")

    def inspect(self, container: str) -> dict[str, Any] | None:
        """``docker inspect`` of one container; None if it is gone."""
        data = self.get(f"/containers/{quote(container, safe='')}/json")
        return data if isinstance(data, dict) else None

    def unpause(self, container: str) -> None:
        """Thaw a paused container."""
        self.get(f"/containers/{quote(container, safe='')}/unpause", method="POST")

    def volumes(self, project: str) -> list[dict[str, Any]]:
        """The named volumes compose created for a project (by its labels)."""
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        data = self.get(f"/volumes?filters={quote(filters)}") or {}
        return list(data.get("Volumes") or [])

    def images(self, project: str) -> dict[str, dict[str, Any]]:
        """Per compose service of a project: the image it was created from, its id and registry digests.

        Read from the project's containers, so it is what runs, not what the compose file would pull
        today. An image built or imported locally has an id (itself a sha256 digest) and no
        registry digest.
        """
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        out: dict[str, dict[str, Any]] = {}
        for container in self.get(f"/containers/json?all=true&filters={quote(filters)}") or []:
            service = (container.get("Labels") or {}).get("com.docker.compose.service")
            image_id = str(container.get("ImageID") or "")
            if not service or service in out or not image_id:
                continue
            image = self.get(f"/images/{quote(image_id, safe='')}/json") or {}
            full_id = str(image.get("Id") or image_id)
            out[service] = {
                "image": str(container.get("Image") or ""),
                "id": full_id if full_id.startswith("sha256:") else f"sha256:{full_id}",
                "repo_digests": sorted(str(d) for d in image.get("RepoDigests") or []),
            }
        return out

    def volume_usage(self) -> dict[str, int]:
        """Bytes used by each volume, as the engine's disk-usage report gives them (-1: unknown)."""
        data = self.get("/system/df") or {}
        usage: dict[str, int] = {}
        for volume in data.get("Volumes") or []:
            size = (volume.get("UsageData") or {}).get("Size")
            usage[str(volume.get("Name"))] = int(size) if isinstance(size, int) else -1
        return usage
