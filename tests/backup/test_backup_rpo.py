"""The RPO per datastore (pure): newest verified good artifact, age from the start, the worst datastore."""

from __future__ import annotations

from typing import Any

from seawall.backup.catalog import CatalogEntry, Check
from seawall.backup.rpo import DatastoreRpo, data_age, good_components, rpo_by_datastore, worst


def entry(backup_id: str, started: float, *components: str) -> CatalogEntry:
    return CatalogEntry(backup_id, started, started + 50, True, (), components, 1, 1)


def check(ok: bool, **artifacts: bool) -> Check:
    detail: dict[str, Any] = {"artifacts": [{"component": c, "ok": v} for c, v in artifacts.items()]}
    return Check("x", 0.0, False, ok, detail)


def test_an_artifact_that_failed_verification_does_not_count_for_its_datastore() -> None:
    e = entry("b", 0.0, "db", "files")
    assert good_components(e, check(False, db=True, files=False)) == {"db"}
    assert good_components(e, None) == set()
    assert good_components(e, Check("b", 0.0, False, True, {})) == {"db", "files"}


def test_each_datastore_takes_its_newest_verified_backup_and_the_stack_its_worst() -> None:
    backups = [
        (entry("full", 100.0, "db", "files"), check(True, db=True, files=True)),
        (entry("db-only", 900.0, "db"), check(True, db=True)),
        (entry("unverified", 950.0, "db", "files"), None),
    ]
    figures = rpo_by_datastore(["db", "files", "cache"], backups, now=1000.0)
    assert figures == (
        DatastoreRpo("db", "db-only", 100.0),
        DatastoreRpo("files", "full", 900.0),
        DatastoreRpo("cache"),
    )
    assert worst(figures) == DatastoreRpo("cache")
    assert worst(figures[:2]) == DatastoreRpo("files", "full", 900.0)
    assert worst(()) is None


def test_a_future_dated_backup_is_new_not_negative() -> None:
    assert data_age(2000.0, now=1000.0) == 0.0
    assert data_age(400.0, now=1000.0) == 600.0
