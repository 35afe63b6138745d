"""The pure helpers of probes: secret redaction and the small JSON path."""

from __future__ import annotations

import pytest

from seawall.probes import check_json, lookup, redact, redact_url
from seawall.probes.jsonpath import JsonScalar, is_missing
from seawall.probes.redact import secrets_of

DOC = {"status": "pass", "checks": [{"ok": True, "n": 0}, {"ok": False}], "n": 1}


def test_redact_url_masks_only_the_password() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/shop") == "postgresql://app:***@db:5432/shop"
    assert redact_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("http://127.0.0.1:8080/health") == "http://127.0.0.1:8080/health"


def test_redact_removes_raw_and_decoded_secrets_and_url_passwords() -> None:
    secrets = secrets_of("mysql://root:p%40ss@h/db")
    text = redact("auth failed with p@ss and p%40ss; see mysql://u:other@h/x", secrets)
    assert "p@ss" not in text
    assert "p%40ss" not in text
    assert "other" not in text
    assert "mysql://u:***@h/x" in text


def test_lookup_follows_keys_and_list_indices() -> None:
    assert lookup(DOC, "checks.0.ok") is True
    assert lookup(DOC, "checks.-1.ok") is False
    assert lookup(DOC, "") == DOC
    assert is_missing(lookup(DOC, "checks.5.ok"))
    assert is_missing(lookup(DOC, "checks.x"))
    assert is_missing(lookup(DOC, "status.deeper"))


@pytest.mark.parametrize(
    ("path", "expected", "problem"),
    [
        ("status", "pass", None),
        ("status", "fail", 'JSON \'status\' is "pass", expected "fail"'),
        ("checks.0.ok", None, None),
        ("checks.1.ok", None, "JSON 'checks.1.ok' is false"),
        ("checks.0.n", None, "JSON 'checks.0.n' is 0"),
        ("n", 1.0, None),
        ("n", True, "JSON 'n' is 1, expected true"),
        ("missing", None, "JSON has no 'missing'"),
    ],
)
def test_check_json_truthiness_and_equality(path: str, expected: JsonScalar, problem: str | None) -> None:
    assert check_json(DOC, path, expected) == problem
