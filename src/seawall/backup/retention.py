"""Which backups a retention policy keeps, as restic's ``forget`` does (pure; buckets in UTC)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from seawall.config.stack import Retention

_BUCKETS: tuple[tuple[str, Callable[[datetime], tuple[int, ...]]], ...] = (
    ("hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("daily", lambda t: (t.year, t.month, t.day)),
    ("weekly", lambda t: tuple(t.isocalendar()[:2])),
    ("monthly", lambda t: (t.year, t.month)),
    ("yearly", lambda t: (t.year,)),
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What retention needs to know about one backup."""

    id: str
    time: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """Keep or remove one backup, and the rules that keep it."""

    id: str
    keep: bool
    reasons: tuple[str, ...]


def has_rules(policy: Retention) -> bool:
    """Whether the policy says anything; an empty policy keeps everything."""
    counts = (policy.keep_last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly)
    return any(c is not None for c in counts) or bool(policy.keep_tags)


def select(snapshots: Sequence[Snapshot], policy: Retention) -> list[Decision]:
    """Decisions for every snapshot, newest first.

    keep_last keeps the N newest; each time bucket rule keeps the newest backup of each of its
    N most recent buckets (a bucket with a backup counts, an empty one does not); keep_tags keeps
    any backup carrying one of the tags. A backup is kept if any rule keeps it.
    """
    ordered = sorted(snapshots, key=lambda s: (s.time, s.id), reverse=True)
    if not has_rules(policy):
        return [Decision(s.id, True, ("no retention policy",)) for s in ordered]
    reasons: dict[str, list[str]] = {s.id: [] for s in ordered}
    for i, snap in enumerate(ordered):
        if policy.keep_last is not None and i < policy.keep_last:
            reasons[snap.id].append(f"last {policy.keep_last}")
        for tag in policy.keep_tags:
            if tag in snap.tags:
                reasons[snap.id].append(f"tag {tag}")
    for name, bucket in _BUCKETS:
        limit = getattr(policy, name)
        if not limit:
            continue
        seen: set[tuple[int, ...]] = set()
        for snap in ordered:
            key = bucket(datetime.fromtimestamp(snap.time, tz=UTC))
            if key in seen:
                continue
            if len(seen) >= limit:
                break
            seen.add(key)
            reasons[snap.id].append(f"{name} {limit}")
    return [Decision(s.id, bool(reasons[s.id]), tuple(reasons[s.id])) for s in ordered]
