"""The `seawall proxy` command: the fault proxy and its Toxiproxy-compatible API, until SIGINT/SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def proxy(
    host: Annotated[str, typer.Option("--host", help="Address of the control API.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port of the control API (0: any free port).")] = 8474,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Proxies to create at startup (Toxiproxy JSON list, or YAML).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed for toxicity draws and jitter (default: random, logged)."),
    ] = None,
    default_ttl: Annotated[
        str, typer.Option("--default-ttl", help="TTL of faults created without one, e.g. 30m; 0: none.")
    ] = "1h",
) -> None:
    """Run the fault proxy: TCP proxies with toxics and HTTP faults, driven like Toxiproxy (port 8474)."""
    from seawall.chaos.proxy import ProxyService, load_config, run
    from seawall.config.units import parse_duration
    from seawall.errors import UsageError

    try:
        ttl = parse_duration(default_ttl)
    except ValueError as exc:
        raise UsageError(f"--default-ttl: {exc}") from None
    proxies = load_config(config) if config is not None else []
    run(ProxyService(host, port, proxies=proxies, seed=seed, default_ttl=ttl or None))
