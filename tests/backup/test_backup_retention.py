"""Retention selection (pure): restic's keep-last / bucket / tag rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.backup.retention import NOT_KEPT, Snapshot, emptied_groups, has_rules, select
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
    assert kept(snaps, yearly=5) == {"y24", "m12", "m1"}  # two years of five: the oldest is kept too
    assert kept(snaps, weekly=1) == {"y24"}


def test_tagged_backups_are_kept_with_the_reason() -> None:
    snaps = [Snapshot("old", 0.0, ("release",)), Snapshot("new", DAY)]
    decisions = {d.id: d for d in select(snaps, Retention(keep_last=1, keep_tags=["release"]))}
    assert decisions["old"].keep
    assert decisions["old"].reasons == ("tag release",)
    assert decisions["new"].reasons == ("last 1",)


@pytest.mark.parametrize(
    "policy",
    [{"keep_last": 0}, {"daily": 0}, {"keep_last": 0, "hourly": 0, "weekly": 0, "monthly": 0, "yearly": 0}],
)
def test_a_policy_of_zero_counts_is_empty_and_keeps_everything(policy: dict[str, int]) -> None:
    snaps = [Snapshot(str(i), i * DAY) for i in range(4)]
    assert not has_rules(Retention.model_validate(policy))
    assert kept(snaps, **policy) == {"0", "1", "2", "3"}


def test_a_tag_only_policy_that_matches_nothing_empties_the_group() -> None:
    snaps = [Snapshot(str(i), i * DAY, group=("db",)) for i in range(3)]
    decisions = select(snaps, Retention(keep_tags=["release"]))
    assert not any(d.keep for d in decisions)
    assert emptied_groups(decisions) == [("db",)]


def test_removed_backups_say_no_rule_keeps_them() -> None:
    snaps = [Snapshot(str(i), i * DAY) for i in range(3)]
    decisions = {d.id: d for d in select(snaps, Retention(keep_last=1))}
    assert decisions["0"].reasons == (NOT_KEPT,) == ("no rule keeps it",)
    assert not decisions["0"].keep


def test_each_group_of_components_keeps_its_own_policy() -> None:
    full = ("db", "files", "stack-config")
    snaps = [
        Snapshot("full", ts(2024, 1, 1), group=full),
        Snapshot("db-only", ts(2024, 1, 2), group=("db",)),
        Snapshot("safety", ts(2024, 1, 3), ("pre-restore",), group=("db", "files")),
    ]
    decisions = select(snaps, Retention(keep_last=1))
    assert all(d.keep for d in decisions)
    assert {d.id: d.group for d in decisions}["full"] == full
    assert emptied_groups(decisions) == []


def test_a_bucket_rule_with_buckets_left_also_keeps_the_oldest() -> None:
    snaps = [
        Snapshot("h10-late", ts(2024, 1, 1, 10) + 3000),
        Snapshot("h10-early", ts(2024, 1, 1, 10) + 600),
        Snapshot("h9-late", ts(2024, 1, 1, 9) + 1800),
        Snapshot("h9-early", ts(2024, 1, 1, 9) + 300),
    ]
    decisions = {d.id: d for d in select(snaps, Retention(hourly=3))}
    assert {i for i, d in decisions.items() if d.keep} == {"h10-late", "h9-late", "h9-early"}
    assert decisions["h9-early"].reasons == ("oldest hourly 3",)
    # every bucket asked for was filled: the oldest goes
    assert kept(snaps, hourly=2) == {"h10-late", "h9-late"}


def test_a_future_dated_backup_takes_a_keep_last_slot_without_breaking_selection() -> None:
    snaps = [
        Snapshot("skewed", ts(2999, 1, 1)),
        Snapshot("now", ts(2024, 1, 2)),
        Snapshot("old", ts(2024, 1, 1)),
    ]
    assert kept(snaps, keep_last=1, daily=1) == {"skewed"}


@given(
    times=st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False), min_size=1, max_size=40),
    keep_last=st.integers(min_value=0, max_value=10),
    daily=st.integers(min_value=0, max_value=10),
    tagged=st.lists(st.booleans(), max_size=40),
    tag_only=st.booleans(),
)
def test_the_newest_backup_is_kept_unless_only_tags_rule_and_counts_are_bounded(
    times: list[float], keep_last: int, daily: int, tagged: list[bool], tag_only: bool
) -> None:
    snaps = [
        Snapshot(f"{i:03d}", t, ("keep",) if i < len(tagged) and tagged[i] else ())
        for i, t in enumerate(times)
    ]
    policy = Retention(keep_tags=["keep"]) if tag_only else Retention(keep_last=keep_last, daily=daily)
    decisions = select(snaps, policy)
    assert len(decisions) == len(snaps)
    assert all(d.keep == (d.reasons != (NOT_KEPT,)) for d in decisions)
    if tag_only:
        assert {d.id for d in decisions if d.keep} == {s.id for s in snaps if s.tags}
        assert bool(emptied_groups(decisions)) == (not any(s.tags for s in snaps))
        return
    assert decisions[0].keep  # an empty policy keeps it too
    if not has_rules(policy):
        assert all(d.keep for d in decisions)
        return
    assert emptied_groups(decisions) == []
    assert sum(d.keep for d in decisions) <= keep_last + daily
    assert sum("last" in " ".join(d.reasons) for d in decisions) == min(keep_last, len(snaps))
