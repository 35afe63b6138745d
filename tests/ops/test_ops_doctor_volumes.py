"""Doctor on a compose stack warns when a stateful service keeps its data in no named volume."""

from __future__ import annotations

from pathlib import Path

from seawall.config import load_stack
from seawall.ops.doctor_checks import volume_checks

COMPOSE = """\
services:
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: pw}
  cache:
    image: redis:7
    volumes: [cachedata:/data]
volumes:
  cachedata: {}
"""


def test_database_without_a_volume_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    checks = volume_checks(load_stack(tmp_path))
    warned = [c for c in checks if c.status == "warn"]
    assert len(warned) == 1
    assert "db" in warned[0].detail
    assert "named volume" in warned[0].hint


def test_named_volumes_everywhere_pass(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        COMPOSE.replace("environment: {POSTGRES_PASSWORD: pw}", "volumes: [pg:/var/lib/postgresql/data]")
        + "  pg: {}\n"
    )
    checks = volume_checks(load_stack(tmp_path))
    assert [c.status for c in checks] == ["ok"]


def test_local_stacks_have_no_volume_check(tmp_path: Path) -> None:
    (tmp_path / "seawall.yaml").write_text("stack: s\n")
    assert volume_checks(load_stack(tmp_path)) == []
