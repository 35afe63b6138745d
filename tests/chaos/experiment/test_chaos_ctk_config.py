"""Chaos Toolkit configuration, secrets, controls and notes on import; ${VAR} placeholders (pure)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from seawall.chaos.experiment import parse_experiment
from seawall.chaos.experiment import placeholders as ph
from seawall.chaos.experiment.chaostoolkit import convert_chaostoolkit
from seawall.chaos.experiment.ctk_config import resolve, substitute
from seawall.chaos.experiment.tolerance import check_tolerance
from seawall.errors import ConfigError, UsageError


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered secret (the registry is per process)."""
    monkeypatch.setattr(ph, "_values", {})
    monkeypatch.setattr(ph, "_secrets", set())


def _ctk(**extra: Any) -> dict[str, Any]:
    probe = {
        "type": "probe",
        "name": "api answers",
        "tolerance": 0,
        "provider": {"type": "process", "path": "echo", "arguments": ["${host}", "$port", "${token}"]},
    }
    return {
        "title": "t",
        "steady-state-hypothesis": {"title": "up", "probes": [probe]},
        "method": [
            {"type": "action", "name": "poke", "provider": {"type": "http", "url": "http://${host}/"}}
        ],
        **extra,
    }


def test_configuration_literals_are_written_in_place_and_env_entries_become_placeholders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like chaoslib.load_configuration: literal values as they are, env entries with their default."""
    monkeypatch.setenv("SW_PORT", "8080")
    subs = resolve(
        {
            "configuration": {
                "host": "127.0.0.1",
                "port": {"type": "env", "key": "SW_PORT"},
                "zone": {"type": "env", "key": "SW_ZONE_UNSET", "default": "eu"},
                "raw": "a ${b}",
            }
        },
        running=True,
    )
    assert subs.values == {
        "host": "127.0.0.1",
        "port": "${SW_PORT}",
        "zone": "${SW_ZONE_UNSET:-eu}",
        "raw": "a $${b}",
    }
    assert ph.expand_text(subs.values["zone"]) == "eu"
    assert ph.expand_text(subs.values["port"]) == "8080"
    assert ph.expand_text(subs.values["raw"]) == "a ${b}"


def test_a_missing_environment_variable_without_default_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """configuration or secrets reading an unset variable: a UsageError naming it (exit 2)."""
    monkeypatch.delenv("SW_NOPE", raising=False)
    with pytest.raises(
        UsageError, match="configuration 'port' reads the environment variable SW_NOPE"
    ) as info:
        resolve({"configuration": {"port": {"type": "env", "key": "SW_NOPE"}}}, running=True)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match=r"secret db\.password reads the environment variable SW_NOPE"):
        resolve({"secrets": {"db": {"password": {"type": "env", "key": "SW_NOPE"}}}}, running=True)
    # chaos import does not need the variable: it is where the experiment runs that it must be set
    assert resolve(
        {"secrets": {"db": {"password": {"type": "env", "key": "SW_NOPE"}}}}, running=False
    ).values == {"password": "${SW_NOPE}"}


def test_unsupported_configuration_and_secret_kinds_are_refused() -> None:
    """Dynamic (probe) configuration and vault secrets are errors, never dropped."""
    with pytest.raises(UsageError, match="dynamic configuration"):
        resolve({"configuration": {"x": {"type": "probe", "provider": {}}}}, running=False)
    with pytest.raises(UsageError, match="secrets of type 'vault'"):
        resolve({"secrets": {"s": {"k": {"type": "vault", "key": "secret/x"}}}}, running=False)
    with pytest.raises(UsageError, match="scopes"):
        resolve({"secrets": {"k": "flat"}}, running=False)


def test_inline_secrets_are_registered_when_running_and_noted_on_import() -> None:
    """An inline secret's value reaches only the running process; import notes it and copies nothing."""
    doc = {"secrets": {"api": {"token": "s3cr3t-value"}}}
    noted = resolve(doc, running=False)
    assert noted.values == {"token": "${token}"}
    assert "not copied" in noted.notes[0]
    assert ph.expand_text("${token}") == "${token}"  # nothing registered by an import
    resolve(doc, running=True)
    assert ph.expand_text("Bearer ${token}") == "Bearer s3cr3t-value"
    assert ph.hide({"out": ["got s3cr3t-value"]}) == {"out": ["got ***"]}


def test_substitute_reads_templates_as_chaoslib_does() -> None:
    """${name} and $name are replaced; $$ is a dollar; unknown names stay literal, never env lookups."""
    subs = {"host": "h", "port": "${SW_PORT}"}
    assert substitute("http://${host}:$port/x", subs) == "http://h:${SW_PORT}/x"
    assert substitute(["$$5", {"a": "${other}"}, 3], subs) == ["$5", {"a": "$${other}"}, 3]
    assert ph.expand_text(substitute("${other}", subs)) == "${other}"
    assert substitute("$${host}", subs) == "$${host}"  # Template's "$$" then "{host}": a literal


def test_configuration_wins_over_secrets_of_the_same_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SW_TOKEN", "t")
    subs = resolve(
        {
            "configuration": {"token": "plain"},
            "secrets": {"s": {"token": {"type": "env", "key": "SW_TOKEN"}}},
        },
        running=True,
    )
    assert subs.values["token"] == "plain"


def test_placeholders_report_what_is_missing_and_expand_nested_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SW_A", "1")
    monkeypatch.delenv("SW_B", raising=False)
    value = {"url": "http://x/${SW_A}", "args": ["${SW_B}", "${SW_B:-d}", "$${SW_B}"]}
    assert ph.missing(value, "p") == [("p.args[0]", "SW_B")]
    assert ph.expand(value) == {"url": "http://x/1", "args": ["${SW_B}", "d", "${SW_B}"]}


def test_import_never_copies_secret_values_and_writes_env_references(monkeypatch: pytest.MonkeyPatch) -> None:
    """chaos import: ${VAR} for env entries, ${key} for inline secrets, notes for what is not kept."""
    monkeypatch.setenv("SW_API_TOKEN", "env-secret-123")
    doc = _ctk(
        configuration={"host": "127.0.0.1:9", "port": {"type": "env", "key": "SW_PORT", "default": "80"}},
        secrets={"api": {"token": {"type": "env", "key": "SW_API_TOKEN"}, "other": "inline-secret-456"}},
        extensions=[{"name": "x"}],
        contributions={"security": "high"},
        custom=1,
    )
    conversion = convert_chaostoolkit(doc)
    text = yaml.safe_dump(conversion.document)
    assert "env-secret-123" not in text
    assert "inline-secret-456" not in text
    args = conversion.document["steady_state"]["probes"][0]["provider"]["arguments"]
    assert args == ["127.0.0.1:9", "${SW_PORT:-80}", "${SW_API_TOKEN}"]
    assert conversion.document["method"][0]["provider"]["url"] == "http://127.0.0.1:9/"
    notes = "\n".join(conversion.notes)
    assert "secret api.other" in notes
    assert "extensions are not converted" in notes
    assert "contributions are not converted" in notes
    assert "keys not converted: custom" in notes
    parse_experiment(conversion.document, check_env=False)


def test_import_notes_provider_and_activity_keys_it_does_not_keep() -> None:
    doc = _ctk()
    doc["method"][0]["provider"].update({"verify_tls": False, "secrets": ["api"]})
    doc["method"][0]["extra"] = True
    notes = "\n".join(convert_chaostoolkit(doc).notes)
    assert "provider keys not converted: verify_tls" in notes
    assert "provider `secrets` is not passed" in notes
    assert "keys not converted: extra" in notes


@pytest.mark.parametrize(
    ("where", "place", "converted"),
    [
        ("the experiment", lambda d: d, lambda d: d),
        ("steady-state-hypothesis", lambda d: d["steady-state-hypothesis"], lambda d: d["steady_state"]),
        ("method[0] (poke)", lambda d: d["method"][0], lambda d: d["method"][0]),
    ],
)
def test_controls_are_converted_where_they_are_declared(where: str, place: Any, converted: Any) -> None:
    """Controls at any level are kept there, ${name} substituted in their arguments; a bad one is named."""
    doc = _ctk(configuration={"host": "db.local"})
    place(doc)["controls"] = [
        {
            "name": "tracing",
            "scope": "after",
            "provider": {"type": "python", "module": "chaostracing.control", "arguments": {"to": "${host}"}},
        }
    ]
    out = convert_chaostoolkit(doc).document
    assert converted(out)["controls"] == [
        {
            "name": "tracing",
            "provider": {"type": "python", "module": "chaostracing.control", "arguments": {"to": "db.local"}},
            "scope": "after",
        }
    ]
    assert out["configuration"] == {"host": "db.local"}
    parse_experiment(out, check_env=False)  # a valid Seawall document (modules are checked where it runs)
    place(doc)["controls"] = [{"name": "http-one", "provider": {"type": "http", "url": "http://x/"}}]
    with pytest.raises(UsageError, match=re.escape("control provider type 'http' is not supported")) as info:
        convert_chaostoolkit(doc)
    assert info.value.message.startswith(where)


def test_runtime_settings_are_converted_or_refused() -> None:
    """freq becomes probe_interval; a rollback strategy Seawall cannot honour is refused; the rest noted."""
    doc = _ctk(runtime={"hypothesis": {"strategy": "continuously", "freq": 2, "fail_fast": True}})
    conversion = convert_chaostoolkit(doc)
    assert conversion.document["runtime"] == {"hypothesis": "strict", "probe_interval": 2.0}
    assert "runtime.hypothesis.fail_fast is not converted" in conversion.notes
    with pytest.raises(UsageError, match=r"rollbacks\.strategy 'never'"):
        convert_chaostoolkit(_ctk(runtime={"rollbacks": {"strategy": "never"}}))


def test_ref_objects_point_at_activities_by_name() -> None:
    doc = _ctk()
    doc["rollbacks"] = [{"ref": "poke"}]
    converted = convert_chaostoolkit(doc).document
    assert converted["rollbacks"][0]["provider"]["url"] == "http://${host}/".replace("${host}", "$${host}")


def test_probe_tolerances_are_converted_and_validated() -> None:
    """A probe tolerance keeps its provider (substituted); a malformed one is an error on load."""
    doc = _ctk(configuration={"limit": "5"})
    doc["steady-state-hypothesis"]["probes"][0]["tolerance"] = {
        "type": "probe",
        "name": "under limit",
        "provider": {"type": "python", "module": "m", "func": "f", "arguments": {"limit": "${limit}"}},
    }
    converted = convert_chaostoolkit(doc).document
    tolerance = converted["steady_state"]["probes"][0]["tolerance"]
    assert tolerance["provider"]["arguments"] == {"limit": "5"}
    parse_experiment(converted)
    with pytest.raises(ValueError, match="arguments as a mapping"):
        check_tolerance({"type": "probe", "provider": {"type": "process", "path": "x", "arguments": ["a"]}})
    with pytest.raises(ValueError, match="needs a provider"):
        check_tolerance({"type": "probe"})
    with pytest.raises(ValueError, match="needs module and func"):
        check_tolerance({"type": "probe", "provider": {"type": "python"}})


def test_loading_a_ctk_file_with_a_missing_variable_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """parse_experiment names the file and the variable; Seawall's own ${VAR} are checked too."""
    monkeypatch.delenv("SW_NOPE", raising=False)
    doc = _ctk(configuration={"host": {"type": "env", "key": "SW_NOPE"}})
    with pytest.raises(
        ConfigError, match=r"exp\.json: configuration 'host' reads the environment variable SW_NOPE"
    ):
        parse_experiment(doc, "exp.json")
    seawall_doc = {
        "title": "t",
        "steady_state": {"probes": []},  # Seawall's format (in a Chaos Toolkit one, ${x} is not an env read)
        "method": [
            {"type": "action", "provider": {"type": "process", "path": "echo", "arguments": ["${SW_NOPE}"]}}
        ],
    }
    with pytest.raises(
        ConfigError, match=r"method\[0\]\.provider\.arguments\[0\]: the environment variable SW_NOPE"
    ):
        parse_experiment(seawall_doc, "exp.yaml")
    parse_experiment(seawall_doc, "exp.yaml", check_env=False)


def test_process_arguments_are_built_as_chaostoolkit_builds_them() -> None:
    """A mapping gives key, value, ... (empty ones left out); a string runs in the shell after the path."""
    doc = _ctk(configuration={"n": "3"})
    mapping = {"--port": 80, "verbose": None, "name": "${n}"}
    doc["method"] = [
        {
            "type": "action",
            "name": "m",
            "provider": {"type": "process", "path": "tool", "arguments": mapping},
        },
        {
            "type": "action",
            "name": "s",
            "provider": {"type": "process", "path": "echo", "arguments": "a | wc"},
        },
    ]
    built, shell = (a["provider"] for a in convert_chaostoolkit(doc).document["method"])
    assert built["arguments"] == ["--port", "80", "verbose", "name", "3"]
    assert (shell["path"], shell["arguments"]) == ("sh", ["-c", "echo a | wc"])
