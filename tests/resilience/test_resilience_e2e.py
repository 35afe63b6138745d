"""End to end: a real HTTP dependency fails and recovers; the breaker opens, half-opens, closes."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seawall.resilience import Breaker, CircuitOpenError, Pipeline, Retry, State, StateChange
from seawall.testing import FakeClock, use_clock

pytestmark = pytest.mark.integration


def current(breaker: Breaker) -> State:
    """The breaker's state, read afresh (calls change it between reads)."""
    return breaker.state


class Dependency(ThreadingHTTPServer):
    healthy = True
    hits = 0


class Handler(BaseHTTPRequestHandler):
    server: Dependency

    def do_GET(self) -> None:
        self.server.hits += 1
        code = 200 if self.server.healthy else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"no")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def dependency() -> Iterator[Dependency]:
    server = Dependency(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_breaker_opens_half_opens_and_closes_against_a_real_server(dependency: Dependency) -> None:
    url = f"http://127.0.0.1:{dependency.server_address[1]}/"
    clock = FakeClock()
    changes: list[StateChange] = []
    breaker = Breaker(
        "http-dep",
        window=10,
        min_calls=4,
        open_for=15.0,
        half_open_calls=2,
        failure_on=urllib.error.HTTPError,
        clock=clock,
        on_state_change=changes.append,
    )
    pipe = Pipeline(retry=Retry(on=urllib.error.HTTPError, attempts=3), breaker=breaker)

    def fetch() -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()  # the error holds the response open
            raise

    with use_clock(clock):
        assert pipe.call(fetch) == b"ok"
        dependency.healthy = False
        with pytest.raises(urllib.error.HTTPError) as first:
            pipe.call(fetch)
        assert first.value.code == 503
        with pytest.raises(CircuitOpenError):
            pipe.call(fetch)  # fourth recorded call: 3 failures of 4 opens it
        hits = dependency.hits
        with pytest.raises(CircuitOpenError):
            pipe.call(fetch)
        assert dependency.hits == hits  # open: the dependency is left alone
        dependency.healthy = True
        clock.advance(15.0)
        assert current(breaker) is State.HALF_OPEN
        assert pipe.call(fetch) == b"ok"
        assert pipe.call(fetch) == b"ok"
    assert current(breaker) is State.CLOSED
    assert [(c.old, c.new) for c in changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
