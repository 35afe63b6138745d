"""The statistical steady state: generated traffic, an error-rate and a latency-percentile objective."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from seawall.chaos.load_gen import MAX_CONCURRENCY, MAX_RATE
from seawall.config.probes import Frozen
from seawall.config.units import Duration

MAX_PHASE_REQUESTS = 100_000
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")
_COUNT_RE = re.compile(r"^\s*(\d+)\s*(?:requests?|reqs?)?\s*$")
_PERCENTILE_KEY = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def parse_rate(value: object) -> float:
    """Requests per second from a number or ``"20/s"``, ``"600/m"``."""
    if isinstance(value, bool):
        raise ValueError("a rate is a number of requests per second or a string like '20/s'")
    if isinstance(value, int | float):
        rate = float(value)
    elif isinstance(value, str) and (match := _RATE_RE.match(value)):
        rate = float(match.group(1)) / (60.0 if (match.group(2) or "s").startswith("m") else 1.0)
    else:
        raise ValueError(f"invalid rate {value!r}: use e.g. 20 or '20/s' or '600/m'")
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"a rate must be above 0 and at most {MAX_RATE:g}/s")
    return rate


def parse_fraction(value: object) -> float:
    """A share from ``"1%"`` or a fraction 0..1 (``0.01``); 0 is allowed (no errors at all)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip().removesuffix("%")) / 100
        except ValueError:
            raise ValueError(f"invalid percentage {value!r}: use e.g. '1%' or 0.01") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
        if share > 1:
            raise ValueError(
                f"{value!r} is ambiguous: write an error rate as '{value}%' or as a fraction 0..1"
            )
    else:
        raise ValueError(f"invalid error rate {value!r}: use e.g. '1%' or 0.01")
    if not 0 <= share <= 1 or math.isnan(share):
        raise ValueError("an error rate must be between 0% and 100%")
    return share


def parse_count(value: object) -> int:
    """A number of requests from ``200`` or ``"200 requests"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, str) and (match := _COUNT_RE.match(value)):
        count = int(match.group(1))
    else:
        raise ValueError(f"invalid request count {value!r}: use e.g. 200 or '200 requests'")
    if not 1 <= count <= MAX_PHASE_REQUESTS:
        raise ValueError(f"a request count must be between 1 and {MAX_PHASE_REQUESTS}")
    return count


Rate = Annotated[float, BeforeValidator(parse_rate)]
Fraction = Annotated[float, BeforeValidator(parse_fraction)]
Count = Annotated[int, BeforeValidator(parse_count)]


class Traffic(Frozen):
    """``traffic: {url, method, rate: 20/s, concurrency: 4}``: what the built-in generator sends."""

    url: str = Field(description="http:// or https:// URL every request goes to")
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    rate: Rate = Field(default=10.0, description="requests per second ('20/s', '600/m')")
    concurrency: int = Field(default=4, ge=1, le=MAX_CONCURRENCY, description="requests in flight at most")
    timeout: Duration = Field(default=2.0, description="per request")
    ok_status: list[int] | None = Field(default=None, description="statuses that count as success (2xx/3xx)")
    during_limit: Duration = Field(default=600.0, description="longest traffic while the method runs")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"traffic url {value!r} must start with http:// or https://")
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        method = value.upper()
        if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"unknown HTTP method {value!r}")
        return method

    @field_validator("timeout", "during_limit")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be above 0")
        return value


class ErrorRateObjective(Frozen):
    """``error_rate: {max: 1%, over: 200 requests}``: at most ``max`` failed among the last ``over``."""

    max: Fraction
    over: Count = 100


class LatencyObjective(Frozen):
    """``p95: {max: 300ms, window: 10s}``: the percentile of response times over the last ``window``."""

    percentile: float = Field(default=95.0, gt=0, le=100)
    max: Duration
    window: Duration = 10.0

    @field_validator("max", "window")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be above 0")
        return value


def percentile_shorthand(data: Any) -> Any:
    """``p95: {...}`` (or p50, p99, p99.9) in a steady state means ``latency: {percentile: 95, ...}``."""
    if not isinstance(data, dict):
        return data
    keys = [k for k in data if isinstance(k, str) and _PERCENTILE_KEY.match(k)]
    if not keys:
        return data
    if len(keys) > 1 or "latency" in data:
        raise ValueError(
            f"one latency objective per steady state (got {', '.join([*keys, *data.keys() & {'latency'}])})"
        )
    key = keys[0]
    value = data[key]
    if not isinstance(value, dict):
        value = {"max": value}  # p95: 300ms
    if "percentile" in value:
        raise ValueError(f"{key} already names its percentile: drop 'percentile'")
    data = {k: v for k, v in data.items() if k != key}
    data["latency"] = {**value, "percentile": float(key[1:])}
    return data


def phase_size(
    traffic: Traffic, error_rate: ErrorRateObjective | None, latency: LatencyObjective | None
) -> tuple[int, float]:
    """Requests and hard time bound of a before/after phase: enough for every objective.

    The error rate needs ``over`` requests, the latency a full ``window`` of traffic; the phase
    may take twice its planned time (a slow service) plus one request timeout, and no longer.
    """
    count = error_rate.over if error_rate is not None else 1
    if latency is not None:
        count = max(count, math.ceil(traffic.rate * latency.window))
    count = min(count, MAX_PHASE_REQUESTS)
    return count, 2.0 * count / traffic.rate + traffic.timeout


def during_size(traffic: Traffic) -> tuple[int, float]:
    """Requests and time bound of the traffic that runs while the method does."""
    seconds = traffic.during_limit
    return max(1, min(MAX_PHASE_REQUESTS * 10, math.ceil(traffic.rate * seconds))), seconds


__all__ = [
    "ErrorRateObjective",
    "LatencyObjective",
    "Traffic",
    "during_size",
    "parse_count",
    "parse_fraction",
    "parse_rate",
    "percentile_shorthand",
    "phase_size",
]
