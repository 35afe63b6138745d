"""Which backups a retention policy keeps, as restic's ``forget`` does (pure; buckets in UTC)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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

NO_POLICY = "no retention policy"
NOT_KEPT = "no rule keeps it"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What retention needs to know about one backup; ``group`` is the set of components it holds."""

    id: str
    time: float
    tags: tuple[str, ...] = ()
    group: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """Keep or remove one backup, and why: the rules that keep it, or ``NOT_KEPT``."""

    id: str
    keep: bool
    reasons: tuple[str, ...]
    group: tuple[str, ...] = ()


def has_rules(policy: Retention) -> bool:
    """Whether the policy says anything. A count of 0 says nothing (as in restic): an all-zero
    policy is empty, and an empty policy keeps everything."""
    counts = (policy.keep_last, policy.hourly, policy.daily, policy.weekly, policy.monthly, policy.yearly)
    return any(counts) or bool(policy.keep_tags)


def group_of(components: Iterable[str]) -> tuple[str, ...]:
    """The retention group of a backup holding ``components`` (order does not matter)."""
    return tuple(sorted(set(components)))


def select(snapshots: Sequence[Snapshot], policy: Retention) -> list[Decision]:
    """Decisions for every snapshot, newest first; the policy applies to each group on its own.

    Grouping is restic's ``--group-by paths``: a backup of one component (or a ``pre-restore``
    safety backup) never takes a ``keep_last`` slot from the full backups.
    """
    ordered = sorted(snapshots, key=lambda s: (s.time, s.id), reverse=True)
    if not has_rules(policy):
        return [Decision(s.id, True, (NO_POLICY,), s.group) for s in ordered]
    groups: dict[tuple[str, ...], list[Snapshot]] = {}
    for snap in ordered:
        groups.setdefault(snap.group, []).append(snap)
    reasons: dict[str, list[str]] = {}
    for members in groups.values():
        reasons.update(_keep_reasons(members, policy))
    return [Decision(s.id, bool(reasons[s.id]), tuple(reasons[s.id] or [NOT_KEPT]), s.group) for s in ordered]


def emptied_groups(decisions: Sequence[Decision]) -> list[tuple[str, ...]]:
    """Groups of which the decisions keep no backup at all (restic refuses to forget those)."""
    kept = {d.group for d in decisions if d.keep}
    return sorted({d.group for d in decisions} - kept)


def _keep_reasons(ordered: Sequence[Snapshot], policy: Retention) -> dict[str, list[str]]:
    """The rules that keep each snapshot of one group (newest first).

    keep_last keeps the N newest; each time bucket rule keeps the newest backup of each of its
    N most recent buckets (a bucket with a backup counts, an empty one does not) and, while it
    has buckets left over, the oldest backup too (restic 0.17: the longest history the counts
    allow); keep_tags keeps any backup carrying one of the tags.
    """
    reasons: dict[str, list[str]] = {s.id: [] for s in ordered}
    for i, snap in enumerate(ordered):
        if policy.keep_last and i < policy.keep_last:
            reasons[snap.id].append(f"last {policy.keep_last}")
        for tag in policy.keep_tags:
            if tag in snap.tags:
                reasons[snap.id].append(f"tag {tag}")
    oldest = ordered[-1] if ordered else None
    for name, bucket in _BUCKETS:
        limit = getattr(policy, name)
        if not limit:
            continue
        seen: set[tuple[int, ...]] = set()
        kept_oldest = False
        for snap in ordered:
            if len(seen) >= limit:
                break
            key = bucket(datetime.fromtimestamp(snap.time, tz=UTC))
            if key in seen:
                continue
            seen.add(key)
            kept_oldest = snap is oldest
            reasons[snap.id].append(f"{name} {limit}")
        if oldest is not None and len(seen) < limit and not kept_oldest:
            reasons[oldest.id].append(f"oldest {name} {limit}")
    return reasons
