"""Units in config values: durations, sizes, percentages."""

from __future__ import annotations

import pytest

from seawall.config.units import (
    format_duration,
    format_size,
    parse_duration,
    parse_percent,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        (3, 3.0),
        ("1.5", 1.5),
    ],
)
def test_durations_parse_to_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "5 weeks", -1, True, None, "1m30"])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256Mi", 256 * 1024**2),
        ("1G", 10**9),
        ("100kB", 100_000),
        (512, 512),
        ("2GiB", 2 * 1024**3),
    ],
)
def test_sizes_parse_to_bytes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size("lots")


@pytest.mark.parametrize(("text", "frac"), [("99.9%", 0.999), (0.95, 0.95), (99, 0.99), ("100%", 1.0)])
def test_percentages_become_fractions(text: object, frac: float) -> None:
    assert parse_percent(text) == pytest.approx(frac)


@pytest.mark.parametrize("bad", ["0%", -5, "abc%"])
def test_bad_percentages_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - float() and our own check raise different texts
        parse_percent(bad)


def test_durations_and_sizes_render_short() -> None:
    assert format_duration(0.25) == "250ms"
    assert format_duration(12.34) == "12.3s"
    assert format_duration(245) == "4m05s"
    assert format_size(1536) == "1.5KiB"
