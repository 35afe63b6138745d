"""Backup ids on the command line: a unique prefix names a backup; nothing else reaches a path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall.backup import create_backup
from seawall.backup._plan import SHOWN_CANDIDATES, complete_id
from seawall.cli.__main__ import main
from seawall.config import StackConfig
from seawall.errors import UsageError

MakeStack = Callable[..., StackConfig]

IDS = ["20250301T120000.123Z-9f2c1a", "20250301T130000.000Z-000001", "20250302T090000.500Z-abcdef"]


def test_an_exact_id_is_itself() -> None:
    assert complete_id(IDS[0], IDS) == IDS[0]


def test_a_unique_prefix_is_completed() -> None:
    assert complete_id("20250301T13", IDS) == IDS[1]
    assert complete_id("20250302", IDS) == IDS[2]


def test_a_prefix_of_several_ids_names_them() -> None:
    with pytest.raises(UsageError, match="ambiguous") as caught:
        complete_id("20250301", IDS)
    assert f"{IDS[0]}, {IDS[1]}" in caught.value.message
    assert IDS[2] not in caught.value.message
    assert "more" not in caught.value.message


def test_an_ambiguous_prefix_names_a_few_then_counts_the_rest() -> None:
    ids = [f"20250301T1200{i:02d}.000Z-00000{i}" for i in range(SHOWN_CANDIDATES + 2)]
    with pytest.raises(UsageError) as caught:
        complete_id("2025", ids)
    message = caught.value.message
    assert all(i in message for i in ids[:SHOWN_CANDIDATES])
    assert ids[SHOWN_CANDIDATES] not in message
    assert message.endswith(f"{ids[SHOWN_CANDIDATES - 1]} and 2 more")


@pytest.mark.parametrize("text", ["2024", "abc", "", "..", "/", "../shop", f"{IDS[0][:8]}/.."])
def test_text_no_id_begins_with_comes_back_as_it_is(text: str) -> None:
    assert complete_id(text, IDS) == text


def test_an_empty_prefix_names_no_backup_even_when_there_is_one() -> None:
    assert complete_id("", IDS[:1]) == ""


@given(st.text(alphabet="0123456789TZ.-abcdef/", max_size=30))
def test_the_answer_is_the_one_id_the_text_begins_else_the_text(text: str) -> None:
    begun = [i for i in IDS if text and i.startswith(text)]
    try:
        answer = complete_id(text, IDS)
    except UsageError:
        assert len(begun) > 1
        return
    assert [answer] == (begun or [text])


def cli(stack: StackConfig, *args: str) -> int:
    return main(["-f", str(stack.source), *args])


@pytest.fixture
def two_ids(make_stack: MakeStack) -> tuple[StackConfig, str, str]:
    """A stack with two real backups; their ids share the prefix of their start times."""
    stack = make_stack()
    return stack, create_backup(stack).id, create_backup(stack).id


def shared_prefix(one: str, other: str) -> str:
    """What both begin with (two backups of one run share at least their start's date)."""
    differ = next((i for i, (a, b) in enumerate(zip(one, other, strict=True)) if a != b), len(one))
    return one[:differ]


def test_show_verify_and_restore_take_a_unique_prefix(
    two_ids: tuple[StackConfig, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, first, second = two_ids
    prefix = first[: len(shared_prefix(first, second)) + 1]  # the shortest unique one
    assert len(prefix) < len(first)
    assert cli(stack, "backup", "show", prefix, "--json") == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["id"] == first
    assert cli(stack, "backup", "verify", prefix, "--json") == 0
    assert json.loads(capsys.readouterr().out)["id"] == first
    copy = tmp_path / "copy.db"
    assert cli(stack, "restore", prefix, "-c", "db", "--to", str(copy), "--json") == 0
    assert json.loads(capsys.readouterr().out)["id"] == first
    assert copy.stat().st_size > 0


def test_an_ambiguous_prefix_is_a_usage_error_naming_the_backups(
    two_ids: tuple[StackConfig, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, first, second = two_ids
    shared = shared_prefix(first, second)
    for command in (["backup", "show"], ["backup", "verify"], ["restore"]):
        assert cli(stack, *command, shared) == 2
        err = capsys.readouterr().err
        assert "ambiguous" in err
        assert first in err
        assert second in err


def test_a_prefix_no_backup_begins_with_is_not_found(
    two_ids: tuple[StackConfig, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, _, _ = two_ids
    assert cli(stack, "backup", "show", "1999") == 2
    assert "'1999' is not a backup id, nor the beginning of one in stack shop" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["backup", "show"], ["backup", "verify"], ["restore", "--force"]])
def test_a_path_is_never_taken_for_a_backup_id(
    two_ids: tuple[StackConfig, str, str],
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack, first, _ = two_ids
    db_before = (tmp_path / "app.db").read_bytes()
    # ../shop/<id> is a real backup's directory by path: refused for its shape, not its absence
    for text in ("..", "/", f"../shop/{first}", f"{first[:8]}/../../..", "/etc/passwd"):
        assert cli(stack, *command, text) == 2, text
        assert "is not a backup id" in capsys.readouterr().err
    assert (tmp_path / "app.db").read_bytes() == db_before
