"""The tcp probe against a real listening socket and a closed port."""

from __future__ import annotations

import asyncio

import pytest

from _helpers import free_port
from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, Status, run_probe

pytestmark = pytest.mark.integration


def test_a_listening_port_passes() -> None:
    async def main() -> ProbeResult:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await run_probe(ProbeSpec.model_validate({"tcp": f"127.0.0.1:{port}"}))

    result = asyncio.run(main())
    assert result.status is Status.PASS
    assert result.detail.startswith("connected to 127.0.0.1:")


def test_a_closed_port_fails_as_connection_refused() -> None:
    result = asyncio.run(run_probe(ProbeSpec.model_validate({"tcp": free_port()})))
    assert (result.status, result.detail) == (Status.FAIL, "connection refused")
    assert result.observed == {"kind": "tcp"}


def test_an_unresolvable_host_fails_readably() -> None:
    spec = ProbeSpec.model_validate({"tcp": "seawall-nohost.invalid:80"})
    result = asyncio.run(run_probe(spec))
    assert (result.status, result.detail) == (Status.FAIL, "cannot resolve host 'seawall-nohost.invalid'")
