"""The http probe against a real local aiohttp server: status, body, JSON, latency, refusal, timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from _helpers import free_port
from seawall.config.probes import ProbeSpec
from seawall.probes import ProbeResult, ProbeTarget, Status, run_probe, run_probes

pytestmark = pytest.mark.integration


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="all ok here")


async def _json(request: web.Request) -> web.Response:
    return web.json_response({"status": "pass", "checks": [{"ok": True}, {"ok": False}]})


async def _unavailable(request: web.Request) -> web.Response:
    return web.Response(status=503, text="down")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="ok, eventually")


async def _secret(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization")
    return web.Response(status=200 if auth == "Bearer t0ken" else 401)


@asynccontextmanager
async def http_server() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 and an OS-chosen free port; yields its base URL."""
    app = web.Application()
    app.add_routes(
        [
            web.get("/ok", _ok),
            web.get("/json", _json),
            web.get("/503", _unavailable),
            web.get("/slow", _slow),
            web.get("/secret", _secret),
        ]
    )
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def probe(http: object, timeout: str = "2s") -> ProbeResult:
    async def main() -> ProbeResult:
        async with http_server() as base:
            check = dict(http) if isinstance(http, dict) else {"url": http}
            check["url"] = str(check["url"]).replace("BASE", base)
            return await run_probe(ProbeSpec.model_validate({"http": check, "timeout": timeout}))

    return asyncio.run(main())


def test_a_2xx_response_passes_with_latency_and_time() -> None:
    result = probe("BASE/ok")
    assert (result.status, result.detail) == (Status.PASS, "HTTP 200")
    assert result.latency > 0
    assert result.observed_at > 0
    assert result.observed == {"kind": "http", "http_status": 200}


def test_a_status_outside_the_range_fails() -> None:
    result = probe("BASE/503")
    assert (result.status, result.detail) == (Status.FAIL, "HTTP 503")


def test_an_expected_non_2xx_status_passes() -> None:
    assert probe({"url": "BASE/503", "status": [503]}).status is Status.PASS


def test_body_must_contain_the_substring() -> None:
    assert probe({"url": "BASE/ok", "body_contains": "ok here"}).status is Status.PASS
    result = probe({"url": "BASE/ok", "body_contains": "ok"[::-1] + "!"})
    assert (result.status, result.detail) == (Status.FAIL, "body does not contain 'ko!'")


def test_json_path_with_and_without_an_expected_value() -> None:
    assert probe({"url": "BASE/json", "json_path": "status", "json_equals": "pass"}).status is Status.PASS
    assert probe({"url": "BASE/json", "json_path": "checks.0.ok"}).status is Status.PASS
    falsy = probe({"url": "BASE/json", "json_path": "checks.1.ok"})
    assert (falsy.status, falsy.detail) == (Status.FAIL, "JSON 'checks.1.ok' is false")
    not_json = probe({"url": "BASE/ok", "json_path": "status"})
    assert not_json.detail == "body is not JSON"


def test_slower_than_max_latency_is_a_warning() -> None:
    result = probe({"url": "BASE/slow?s=0.05", "max_latency": "1ms"})
    assert result.status is Status.WARN
    assert result.detail.startswith("HTTP 200, slow: ")


def test_headers_are_sent() -> None:
    assert probe("BASE/secret").detail == "HTTP 401"
    ok = probe({"url": "BASE/secret", "headers": {"Authorization": "Bearer t0ken"}})
    assert ok.status is Status.PASS


def test_a_server_slower_than_the_timeout_fails_as_timed_out() -> None:
    result = probe("BASE/slow?s=5", timeout="200ms")
    assert (result.status, result.detail) == (Status.FAIL, "timed out after 0.2s")


def test_a_closed_port_fails_as_connection_refused() -> None:
    result = asyncio.run(run_probe(ProbeSpec.model_validate({"http": f"http://127.0.0.1:{free_port()}/"})))
    assert (result.status, result.detail) == (Status.FAIL, "connection refused")


def test_an_unresolvable_host_fails_readably() -> None:
    result = asyncio.run(run_probe(ProbeSpec.model_validate({"http": "http://seawall-nohost.invalid/"})))
    assert result.status is Status.FAIL
    assert result.detail == "cannot resolve host 'seawall-nohost.invalid'"


def test_a_password_in_the_url_never_reaches_the_detail() -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}/"
    result = asyncio.run(run_probe(ProbeSpec.model_validate({"http": url})))
    assert result.status is Status.FAIL
    assert "hunter2" not in result.detail


def test_many_targets_run_concurrently_in_order_on_one_shared_session() -> None:
    async def main() -> list[tuple[ProbeTarget, ProbeResult]]:
        async with http_server() as base:
            items = [
                (
                    ProbeTarget(f"svc{i}", "ready"),
                    ProbeSpec.model_validate({"http": f"{base}/{'ok' if i % 3 else '503'}?i={i}"}),
                )
                for i in range(60)
            ]
            return await run_probes(items, concurrency=8)

    results = asyncio.run(main())
    assert [t.component for t, _ in results] == [f"svc{i}" for i in range(60)]
    assert [r.status for _, r in results] == [Status.PASS if i % 3 else Status.FAIL for i in range(60)]
