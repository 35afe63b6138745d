"""The statistical steady state: its format, the pure verdicts, the request generator, and whole runs."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import MakeStack, http_server
from hypothesis import given
from hypothesis import strategies as st

from _helpers import free_port
from seawall.chaos.experiment import (
    RunStatus,
    build_journal,
    junit,
    markdown,
    parse_experiment,
    run_experiment,
)
from seawall.chaos.experiment.objectives import (
    ErrorRateObjective,
    LatencyObjective,
    Traffic,
    parse_count,
    parse_fraction,
    parse_rate,
    phase_size,
)
from seawall.chaos.experiment.statistical import error_rate, figures, last_window, worst_window
from seawall.chaos.experiment.verdict import Facts, verdict
from seawall.chaos.load_gen import BackgroundTraffic, RequestGenerator, RequestSample
from seawall.errors import ConfigError
from seawall.ops.lifecycle import up
from seawall.runtime import get_runtime

FAST = {"probe_interval": "100ms", "sustained": 2, "recovery_timeout": "10s"}


def _sample(start: float, latency: float = 0.01, ok: bool = True, status: int | None = 200) -> RequestSample:
    return RequestSample(start, latency, status, ok)


# --- the format -----------------------------------------------------------------------------------


def test_units_of_the_statistical_steady_state() -> None:
    """Rates per second or minute, shares as '1%' or a fraction, counts with or without 'requests'."""
    assert parse_rate("20/s") == 20
    assert parse_rate("600/m") == 10
    assert parse_rate(5) == 5
    assert parse_fraction("1%") == pytest.approx(0.01)
    assert parse_fraction(0) == 0
    assert parse_fraction(0.05) == 0.05
    assert parse_count("200 requests") == 200
    assert parse_count(7) == 7
    for bad_rate in ("fast", 0, "5000/s", True):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad_rate)
    with pytest.raises(ValueError, match="ambiguous"):
        parse_fraction(5)
    with pytest.raises(ValueError, match="request count"):
        parse_count("many")


def _doc(steady: dict[str, Any]) -> dict[str, Any]:
    return {"title": "t", "steady_state": steady, "method": [{"pause": "10ms"}]}


def test_a_statistical_steady_state_parses_and_bad_ones_get_clear_errors() -> None:
    """p95 is shorthand for latency at the 95th percentile; objectives and traffic need each other."""
    experiment = parse_experiment(
        _doc(
            {
                "traffic": {"url": "http://127.0.0.1:1/", "rate": "20/s", "concurrency": 4},
                "error_rate": {"max": "1%", "over": "200 requests"},
                "p95": {"max": "300ms", "window": "10s"},
            }
        )
    )
    hypothesis = experiment.steady_state
    assert hypothesis.statistical
    assert hypothesis.latency == LatencyObjective(percentile=95, max=0.3, window=10)
    assert hypothesis.error_rate == ErrorRateObjective(max=0.01, over=200)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"error_rate": {"max": "1%"}}, "need `traffic"),
        ({"traffic": {"url": "http://127.0.0.1:1/"}}, "traffic needs an objective"),
        ({"traffic": {"url": "ftp://x/"}, "p99": "1s"}, "must start with http"),
        ({"traffic": {"url": "http://x/", "rate": "lots"}, "p95": "1s"}, "invalid rate"),
        ({"traffic": {"url": "http://x/", "concurrency": 500}, "p95": "1s"}, "less than or equal to 64"),
        ({"traffic": {"url": "http://x/"}, "p95": "1s", "p99": "2s"}, "one latency objective"),
        ({"traffic": {"url": "http://x/"}, "error_rate": {"max": 3}}, "ambiguous"),
        ({"traffic": {"url": "http://x/"}, "p95": {"max": "0ms"}}, "must be above 0"),
    ]
    for steady, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            parse_experiment(_doc(steady))
        assert info.value.key is not None
        assert info.value.key.startswith("steady_state")


def test_a_phase_is_long_enough_for_every_objective_and_bounded() -> None:
    """Requests: the larger of `over` and rate x window; the time bound is twice that plus a timeout."""
    traffic = Traffic(url="http://x/", rate=20, timeout=2)
    count, seconds = phase_size(traffic, ErrorRateObjective(max=0.01, over=100), LatencyObjective(max=0.3))
    assert count == 200  # 20/s over the default 10s window
    assert seconds == pytest.approx(2 * 200 / 20 + 2)


# --- the pure verdicts ----------------------------------------------------------------------------


def test_figures_judge_the_last_n_requests_and_the_last_window() -> None:
    """Early failures fall out of the judged requests; the percentile uses the latest window only."""
    early = [_sample(t * 0.1, ok=False, status=500) for t in range(10)]
    late = [_sample(1 + t * 0.1, latency=0.02) for t in range(20)]
    result = figures(
        "after", early + late, ErrorRateObjective(max=0.0, over=20), LatencyObjective(max=0.05, window=1.0)
    )
    assert result.ok, result.breaches
    assert result.errors == 10
    assert result.error_rate == pytest.approx(1 / 3)
    assert result.judged_error_rate == 0
    assert result.window_latency == pytest.approx(0.02)
    strict = figures("after", early + late, ErrorRateObjective(max=0.0, over=25))
    assert strict.breaches == ("error rate 20% over the last 25 requests (max 0%)",)
    short = figures("before", late, ErrorRateObjective(max=0.5, over=50))
    assert "only 20 requests completed" in short.breaches[0]
    slow = figures("after", late, latency_objective=LatencyObjective(percentile=95, max=0.01, window=1.0))
    assert slow.breaches == ("p95 20 ms over the last 1s (max 10 ms)",)
    refused = [RequestSample(t * 0.1, 0.001, None, False, "refused") for t in range(5)]
    none = figures("after", refused, latency_objective=LatencyObjective(max=1.0))
    assert "no responses" in none.breaches[0]
    assert not figures("during", refused, ErrorRateObjective(max=0, over=99), judge=False).breaches


@given(
    oks=st.lists(st.booleans(), max_size=60),
    over=st.integers(min_value=1, max_value=60),
    limit=st.floats(min_value=0, max_value=1),
)
def test_the_error_rate_breach_is_exactly_the_share_of_failures_in_the_last_n(
    oks: list[bool], over: int, limit: float
) -> None:
    samples = [_sample(float(i), ok=ok, status=200 if ok else 503) for i, ok in enumerate(oks)]
    result = figures("after", samples, ErrorRateObjective(max=limit, over=over))
    last = oks[-over:]
    expected = len(oks) < over or (last.count(False) / len(last)) > limit
    assert result.ok is not expected
    rate = error_rate(samples)
    if oks:
        assert rate == oks.count(False) / len(oks)
    else:
        assert rate is None


@given(
    latencies=st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=50),
    window=st.floats(min_value=0.5, max_value=20),
)
def test_the_window_percentile_lies_within_the_window_and_the_worst_window_bounds_it(
    latencies: list[float], window: float
) -> None:
    samples = [_sample(i * 0.3, latency=v) for i, v in enumerate(latencies)]
    recent = last_window(samples, window)
    assert recent
    assert all(s.start >= samples[-1].start - window for s in recent)
    result = figures("after", samples, latency_objective=LatencyObjective(max=100.0, window=window))
    assert result.window_latency is not None
    assert min(s.latency for s in recent) <= result.window_latency <= max(s.latency for s in recent)
    worst = worst_window(samples, window, 95)
    assert worst["error_rate"] == 0
    assert worst["latency"] is not None
    assert worst["latency"] <= max(latencies)


def test_a_breach_after_the_method_is_a_deviation_below_not_recovered() -> None:
    assert verdict(Facts(statistics_ok=False)) is RunStatus.DEVIATED
    assert verdict(Facts(statistics_ok=False, after_ok=False)) is RunStatus.NOT_RECOVERED
    assert verdict(Facts(statistics_ok=True, during_ok=False, strict=False)) is RunStatus.PASSED


# --- the generator on a real server ----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(0.2)
        status = 500 if self.path.startswith("/fail") or not self.server.ok.is_set() else 200  # type: ignore[attr-defined]
        body = b"ok" if status == 200 else b"no"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, threading.Event]]:
    """A local HTTP server: /ok is 200 while the event is set (else 500), /fail 500, /slow takes 200ms."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    ok = threading.Event()
    ok.set()
    httpd.ok = ok  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", ok
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.integration
def test_the_generator_keeps_its_rate_and_stops_at_its_bounds(server: tuple[str, threading.Event]) -> None:
    """Count, time and the stop event each end a run; statuses, refusals and timeouts are recorded."""
    base, _ = server
    t0 = time.monotonic()
    samples = RequestGenerator(f"{base}/ok", rate=50, concurrency=4).run(25, 10.0)
    took = time.monotonic() - t0
    assert len(samples) == 25
    assert all(s.ok and s.status == 200 for s in samples)
    assert 0.4 <= took < 3.0  # 25 requests at 50/s: about half a second
    failing = RequestGenerator(f"{base}/fail", rate=100).run(10, 5.0)
    assert [s.status for s in failing] == [500] * 10
    assert not any(s.ok for s in failing)
    slow = RequestGenerator(f"{base}/slow", rate=200, concurrency=2, timeout=0.05).run(1000, 0.3)
    assert 1 <= len(slow) <= 20  # at most two in flight, each timing out after 50 ms
    assert all(s.status is None and "Timeout" in s.error for s in slow)
    refused = RequestGenerator(f"http://127.0.0.1:{free_port()}/", rate=100).run(5, 5.0)
    assert len(refused) == 5
    assert all(s.status is None and not s.ok for s in refused)
    background = BackgroundTraffic(RequestGenerator(f"{base}/ok", rate=100), 100_000, 30.0)
    t0 = time.monotonic()
    background.start()
    time.sleep(0.3)
    got = background.stop()
    assert time.monotonic() - t0 < 3.0
    assert 5 <= len(got) <= 60
    assert background.error == ""


# --- whole runs -------------------------------------------------------------------------------------


def _steady(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "traffic": {"url": url, "rate": "40/s", "concurrency": 4, "timeout": "300ms"},
        "error_rate": {"max": "5%", "over": "30 requests"},
        "p95": {"max": "250ms", "window": "1s"},
        **extra,
    }


@pytest.mark.integration
def test_chaos_a_pause_shows_as_impact_during_and_the_run_passes_after(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    """Traffic before, during (impact: timeouts while paused) and after (met): passed, figures recorded."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "ok.txt").write_text("ok")
    port = free_port()
    stack = make_stack({"catalog": {**http_server(port), "cwd": str(site)}})
    up(stack, get_runtime(stack))
    experiment = parse_experiment(
        {
            "title": "pause under traffic",
            "targets": ["catalog"],
            "steady_state": _steady(f"http://127.0.0.1:{port}/ok.txt"),
            "method": [{"fault": {"kind": "pause", "component": "catalog", "duration": "1s"}}],
            "runtime": {**FAST, "hypothesis": "after"},
        }
    )
    record = run_experiment(experiment, stack, handle_signals=False)
    assert record.status is RunStatus.PASSED, (record.notes, record.statistics)
    journal = build_journal(record)
    stats = journal["seawall"]["statistics"]
    phases = stats["phases"]
    assert set(phases) == {"before", "during", "after"}
    assert phases["before"]["ok"]
    assert phases["after"]["ok"]
    assert phases["before"]["requests"] >= 40
    assert phases["during"]["errors"] > 0  # the paused server let requests time out
    assert stats["impact"]["error_rate"] > 0
    text = markdown(journal)
    assert "## Statistical steady state" in text
    assert "| during |" in text
    assert "impact" in text
    cases = {c.get("name"): c for c in ET.fromstring(junit(journal)).iter("testcase")}
    assert cases["statistical steady state after"].find("failure") is None


@pytest.mark.integration
def test_chaos_a_breach_after_the_method_deviates_and_one_before_skips_the_method(
    make_stack: MakeStack, server: tuple[str, threading.Event], tmp_path: Path
) -> None:
    """Errors after the method: deviated (exit 10) with the breach named; errors before: no method at all."""
    base, ok = server
    stack = make_stack({})
    experiment = parse_experiment(
        {
            "title": "errors after",
            "steady_state": _steady(f"{base}/ok"),
            "method": [{"pause": "200ms"}],
            "runtime": FAST,
        }
    )
    runner_thread_done = threading.Event()

    def break_after_method(message: str) -> None:
        if message.startswith("traffic during"):
            ok.clear()  # the service starts failing once the method is over
            runner_thread_done.set()

    record = run_experiment(experiment, stack, handle_signals=False, progress=break_after_method)
    assert runner_thread_done.is_set()
    assert record.status is RunStatus.DEVIATED
    assert record.exit_code == 10
    journal = build_journal(record)
    after = journal["seawall"]["statistics"]["phases"]["after"]
    assert not after["ok"]
    assert after["breaches"][0].startswith("error rate 100%")
    assert "- after: error rate 100%" in markdown(journal)
    failure = {c.get("name"): c for c in ET.fromstring(junit(journal)).iter("testcase")}[
        "statistical steady state after"
    ].find("failure")
    assert failure is not None

    marker = tmp_path / "method-ran"
    touch = {"type": "action", "provider": {"type": "process", "path": "touch", "arguments": [str(marker)]}}
    skipped = parse_experiment(
        {
            "title": "errors before",
            "steady_state": _steady(f"{base}/fail"),
            "method": [touch],
            "runtime": FAST,
        }
    )
    record = run_experiment(skipped, stack, handle_signals=False)
    assert record.status is RunStatus.DEVIATED
    assert not marker.exists()
    assert record.statistics is not None
    assert set(record.statistics["phases"]) == {"before"}
