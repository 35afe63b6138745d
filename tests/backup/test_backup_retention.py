"""Retention selection (pure): restic's keep-last / bucket / tag rules."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from seawall.backup.retention import Snapshot, select
from seawall.config.stack import Retention

HOUR = 3600.0
DAY = 24 * HOUR


def ts(year: int, month: int, day: int, hour: int = 12) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def kept(snaps: list[Snapshot], **policy: object) -> set[str]:
    return {d.id for d in select(snaps, Retention.model_validate(policy)) if d.keep}


def test_an_empty_policy_keeps_everything() -> None:
    snaps = [Snapshot(str(i), i * HOUR) for i in range(5)]
    decisions = select(snaps, Retention())
    assert all(d.keep for d in decisions)
    assert decisions[0].reasons == ("no retention policy",)


def test_keep_last_keeps_the_newest_n() -> None:
    snaps = [Snapshot(str(i), i * HOUR) for i in range(5)]
    assert kept(snaps, keep_last=2) == {"4", "3"}


def test_daily_keeps_the_newest_backup_of_each_of_the_last_n_days() -> None:
    snaps = [
        Snapshot("d1-early", ts(2024, 1, 1, 1)),
        Snapshot("d1-late", ts(2024, 1, 1, 23)),
        Snapshot("d2", ts(2024, 1, 2)),
        Snapshot("d4", ts(2024, 1, 4)),
    ]
    assert kept(snaps, daily=2) == {"d4", "d2"}
    assert kept(snaps, daily=3) == {"d4", "d2", "d1-late"}


def test_weekly_monthly_yearly_buckets() -> None:
    snaps = [Snapshot(f"m{m}", ts(2023, m, 15)) for m in range(1, 13)] + [Snapshot("y24", ts(2024, 3, 1))]
    assert kept(snaps, monthly=3) == {"y24", "m12", "m11"}
    assert kept(snaps, yearly=5) == {"y24", "m12"}
    assert kept(snaps, weekly=1) == {"y24"}


def test_tagged_backups_are_kept_with_the_reason() -> None:
    snaps = [Snapshot("old", 0.0, ("release",)), Snapshot("new", DAY)]
    decisions = {d.id: d for d in select(snaps, Retention(keep_last=1, keep_tags=["release"]))}
    assert decisions["old"].keep
    assert decisions["old"].reasons == ("tag release",)
    assert decisions["new"].reasons == ("last 1",)


@given(
    times=st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False), min_size=1, max_size=40),
    keep_last=st.integers(min_value=1, max_value=10),
    daily=st.integers(min_value=0, max_value=10),
)
def test_the_newest_backup_is_always_kept_and_counts_are_bounded(
    times: list[float], keep_last: int, daily: int
) -> None:
    snaps = [Snapshot(f"{i:03d}", t) for i, t in enumerate(times)]
    decisions = select(snaps, Retention(keep_last=keep_last, daily=daily))
    assert len(decisions) == len(snaps)
    assert decisions[0].keep
    assert sum(d.keep for d in decisions) <= keep_last + daily
    assert sum("last" in " ".join(d.reasons) for d in decisions) == min(keep_last, len(snaps))
