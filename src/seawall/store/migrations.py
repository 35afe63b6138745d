"""Schema migrations of the state store, applied in order; never edit a released one, append."""

from __future__ import annotations

# Each entry moves the schema from version N to N+1 (PRAGMA user_version).
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE probe_samples (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            component TEXT NOT NULL,
            role TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
            latency REAL NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX probe_samples_by_target ON probe_samples(component, role, ts)",
        "CREATE INDEX probe_samples_by_ts ON probe_samples(ts)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            component TEXT,
            actor TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_by_ts ON events(ts)",
    ],
]
