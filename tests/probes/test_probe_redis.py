"""The redis probe against the real Redis server: PING, wrong credentials, bad db, refusal, timeout."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from _helpers import free_port, silent_server
from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, Status, run_probe

pytestmark = pytest.mark.integration

REDIS = "127.0.0.1:6379"


def run(url: str, timeout: str = "2s") -> ProbeResult:
    return asyncio.run(run_probe(ProbeSpec.model_validate({"redis": url, "timeout": timeout})))


def test_ping_passes() -> None:
    result = run(f"redis://{REDIS}/0")
    assert (result.status, result.detail) == (Status.PASS, "PONG")
    assert result.observed == {"kind": "redis"}


def test_an_unknown_user_fails_without_showing_the_password() -> None:
    password = "pw-" + secrets.token_hex(8)
    result = run(f"redis://seawall-nobody-{secrets.token_hex(4)}:{password}@{REDIS}/0")
    assert result.status is Status.FAIL
    assert result.detail.startswith("authentication failed")
    assert password not in result.detail


def test_a_database_index_out_of_range_fails() -> None:
    result = run(f"redis://{REDIS}/999999")
    assert result.status is Status.FAIL
    assert "out of range" in result.detail


def test_a_closed_port_fails_as_connection_refused() -> None:
    port = free_port()
    assert run(f"redis://127.0.0.1:{port}/0").detail == "connection refused"


def test_a_server_that_never_answers_times_out() -> None:
    async def main() -> ProbeResult:
        async with silent_server() as port:
            spec = ProbeSpec.model_validate({"redis": f"redis://127.0.0.1:{port}/0", "timeout": "300ms"})
            return await run_probe(spec)

    result = asyncio.run(main())
    assert (result.status, result.detail) == (Status.FAIL, "timed out after 0.3s")
