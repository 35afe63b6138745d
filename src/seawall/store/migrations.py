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
    # chaos: the restore ledger (written with synchronous=FULL before a fault is applied) and runs
    [
        """CREATE TABLE chaos_ledger (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            fault TEXT NOT NULL,
            inverse TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'restored', 'failed')),
            owner TEXT NOT NULL,
            owner_pid INTEGER NOT NULL,
            applied_at REAL,
            restored_at REAL,
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX chaos_ledger_by_state ON chaos_ledger(state, ts)",
        """CREATE TABLE chaos_runs (
            id TEXT PRIMARY KEY,
            ts REAL NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            exit_code INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            duration REAL NOT NULL,
            journal TEXT NOT NULL
        )""",
        "CREATE INDEX chaos_runs_by_ts ON chaos_runs(ts)",
    ],
    # backup: the catalog (a cache of the repository's manifests, rebuilt by `backup list --rescan`),
    # verification results and restore durations (RTO), which exist only here.
    [
        """CREATE TABLE backups (
            id TEXT PRIMARY KEY,
            stack TEXT NOT NULL,
            started REAL NOT NULL,
            finished REAL NOT NULL,
            complete INTEGER NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            components TEXT NOT NULL DEFAULT '[]',
            raw_bytes INTEGER NOT NULL,
            stored_bytes INTEGER NOT NULL
        )""",
        "CREATE INDEX backups_by_stack ON backups(stack, started)",
        """CREATE TABLE backup_checks (
            id INTEGER PRIMARY KEY,
            backup_id TEXT NOT NULL,
            ts REAL NOT NULL,
            deep INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX backup_checks_by_backup ON backup_checks(backup_id, ts)",
        """CREATE TABLE backup_restores (
            id INTEGER PRIMARY KEY,
            backup_id TEXT NOT NULL,
            ts REAL NOT NULL,
            component TEXT NOT NULL,
            target TEXT NOT NULL,
            seconds REAL NOT NULL,
            ok INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )""",
    ],
    # backup: the size and mtime of each catalogued manifest, so a listing notices one that changed
    # (corrupted, rewritten) since it was read without reading them all again
    [
        "ALTER TABLE backups ADD COLUMN manifest_size INTEGER",
        "ALTER TABLE backups ADD COLUMN manifest_mtime_ns INTEGER",
    ],
]
