"""The RPO now per datastore (age of the newest verified backup holding it): doctor warns past the
objective, storage reports it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from _helpers import run_cli
from seawall.backup import create_backup, verify_backup
from seawall.backup.rpo import DatastoreRpo
from seawall.config import StackConfig, load_stack
from seawall.ops.doctor import DoctorReport, run_doctor
from seawall.ops.doctor_checks import NO_VERIFIED_HINT, backup_checks, rpo_verdict
from seawall.ops.storage import measure_repository, measure_storage


def write_stack(root: Path, objectives: dict[str, Any] | None = None, datastore: bool = True) -> StackConfig:
    components: dict[str, Any] = {"api": {"command": ["true"]}}
    if datastore:
        db = sqlite3.connect(root / "app.db")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.commit()
        db.close()
        components["db"] = {"datastore": {"kind": "sqlite", "path": "app.db"}}
    doc: dict[str, Any] = {"stack": "rpo", "components": components, "backup": {"repository": "repo"}}
    if objectives is not None:
        doc["objectives"] = objectives
    (root / "seawall.yaml").write_text(yaml.safe_dump(doc))
    return load_stack(root / "seawall.yaml")


def test_no_verified_backup_warns_with_what_to_run() -> None:
    check = rpo_verdict(DatastoreRpo("db"), 900.0, 0)
    assert (check.name, check.status, check.detail) == (
        "backups of db",
        "warn",
        "no verified backup (no backup yet)",
    )
    assert check.hint == "run `seawall backup create` then `seawall backup verify --deep`" == NO_VERIFIED_HINT
    assert (
        rpo_verdict(DatastoreRpo("db"), None, 2).detail
        == "no verified backup (2 backups, none verified with it)"
    )
    assert check.to_dict()["data"] == {
        "component": "db",
        "newest_verified": None,
        "rpo_seconds": None,
        "rpo_objective_seconds": 900.0,
    }


def test_a_verified_backup_within_the_objective_is_ok_and_older_warns() -> None:
    ok = rpo_verdict(DatastoreRpo("db", "b1", 300.0), 900.0, 1)
    assert (ok.status, ok.detail) == (
        "ok",
        "newest verified backup b1 is 5m00s old, within the RPO objective of 15m00s",
    )
    late = rpo_verdict(DatastoreRpo("db", "b1", 7200.0), 900.0, 1)
    assert late.status == "warn"
    assert late.detail == "newest verified backup b1 is 2h00m old, older than the RPO objective of 15m00s"
    assert "more often than every 15m00s" in late.hint
    assert late.to_dict()["data"] == {
        "component": "db",
        "newest_verified": "b1",
        "rpo_seconds": 7200.0,
        "rpo_objective_seconds": 900.0,
    }


def test_without_an_objective_the_age_is_reported_as_ok() -> None:
    check = rpo_verdict(DatastoreRpo("db", "b1", 7200.0), None, 3)
    assert (check.status, check.detail) == (
        "ok",
        "newest verified backup b1 is 2h00m old (no RPO objective set)",
    )


def test_a_stack_without_datastores_has_no_backup_check(tmp_path: Path) -> None:
    assert backup_checks(write_stack(tmp_path, datastore=False)) == []


def test_doctor_warns_before_any_backup_without_creating_state(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"rpo": "15m"})
    [check] = backup_checks(stack)
    assert check.status == "warn"
    assert check.detail == "no verified backup (no backup yet)"
    assert not stack.state_dir.exists()


def test_doctor_follows_the_newest_verified_backup_and_never_fails_for_it(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"rpo": "1ms"})
    backup = create_backup(stack)
    [unverified] = backup_checks(stack)
    assert unverified.detail == "no verified backup (1 backup, none verified with it)"
    assert verify_backup(stack, backup.id).ok
    [late] = backup_checks(stack)
    assert late.status == "warn"
    assert late.detail.startswith(f"newest verified backup {backup.id} is ")
    assert "older than the RPO objective of 1ms" in late.detail
    report = run_doctor(stack, None)
    assert [c.name for c in report.checks][-1] == "backups of db"
    assert report.checks[-1].status == "warn"
    assert report.failed == []
    assert DoctorReport("rpo", [late]).exit_code == 0


def test_storage_reports_the_repository_and_the_rpo_now(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"rpo": "1h"})
    empty = measure_repository(stack)
    assert (empty.backups, empty.size_bytes, empty.newest_verified) == (0, 0, None)
    assert empty.over_objective  # nothing verified is worse than any objective
    assert not stack.state_dir.exists()

    first = create_backup(stack)
    second = create_backup(stack)
    assert verify_backup(stack, first.id).ok
    repo = measure_storage(stack).repository
    assert repo is not None
    assert repo.location == str(tmp_path / "repo")
    assert repo.backups == 2
    assert repo.newest == second.id
    assert repo.newest_verified == first.id
    assert repo.size_bytes is not None
    assert repo.size_bytes > 0
    assert repo.rpo_seconds is not None
    assert 0 <= repo.rpo_seconds < 60
    assert not repo.over_objective
    data = repo.to_dict()
    assert data["rpo_objective_seconds"] == 3600.0
    assert data["newest_verified"] == first.id


def test_an_unsupported_repository_is_reported_not_raised(tmp_path: Path) -> None:
    stack = write_stack(tmp_path)
    (tmp_path / "seawall.yaml").write_text(
        (tmp_path / "seawall.yaml").read_text().replace("repository: repo", "repository: s3://bucket/x")
    )
    stack = load_stack(tmp_path / "seawall.yaml")
    repo = measure_repository(stack)
    assert repo.error is not None
    assert "not supported yet" in repo.error
    [check] = backup_checks(stack)
    assert check.status == "warn"


@pytest.mark.integration
def test_the_cli_shows_the_rpo_in_storage_and_doctor(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"rpo": "1ms"})
    backup = create_backup(stack)
    verify_backup(stack, backup.id)
    storage = run_cli(tmp_path, "storage")
    assert storage.returncode == 0, storage.stderr
    assert f"backups at {tmp_path / 'repo'}" in storage.stdout
    assert f"newest verified backup {backup.id} (objective 1ms)" in " ".join(storage.stdout.split())
    as_json = json.loads(run_cli(tmp_path, "storage", "--json").stdout)
    assert as_json["repository"]["newest_verified"] == backup.id
    doctor = run_cli(tmp_path, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["backups of db"]["status"] == "warn"
    assert checks["backups of db"]["data"]["newest_verified"] == backup.id
    assert as_json["repository"]["datastores"][0]["newest_verified"] == backup.id


def test_doctor_and_storage_judge_each_datastore_and_the_stack_by_its_worst(tmp_path: Path) -> None:
    stack = write_stack(tmp_path, {"rpo": "1h"})
    (tmp_path / "seawall.yaml").write_text(
        (tmp_path / "seawall.yaml")
        .read_text()
        .replace("components:", "components:\n  files:\n    datastore: {kind: files, path: data}", 1)
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    stack = load_stack(tmp_path / "seawall.yaml")
    only_db = create_backup(stack, components=["db"])
    assert verify_backup(stack, only_db.id).ok
    checks = {c.name: c for c in backup_checks(stack)}
    assert checks["backups of db"].status == "ok"
    assert checks["backups of files"].status == "warn"
    assert checks["backups of files"].detail == "no verified backup (1 backup, none verified with it)"
    repo = measure_repository(stack)
    assert (repo.rpo_seconds, repo.rpo_component, repo.over_objective) == (None, "files", True)
    assert [d.component for d in repo.datastores] == ["files", "db"]
    assert repo.to_dict()["rpo_component"] == "files"
