"""The secret rule of `seawall init --from`: which compose environment values are copied, which become ${VAR}.

A value is copied into seawall.yaml only when it cannot hold a secret:

- a value that is itself one reference (``${DB_PASSWORD}``, ``$DB_PASSWORD``) is kept, but a
  literal default inside it is dropped when the name is secret (``${DB_PASSWORD:-changeme}``
  becomes ``${DB_PASSWORD}``);
- a variable whose name holds a secret word (PASSWORD, SECRET, TOKEN, KEY, ...) or whose value is
  a URL with a password in it gets a ``${NAME}`` reference instead of its literal value; equal
  literal secrets share one variable, and a name already taken by a different secret is prefixed
  with the service name (``WORKER_DB_PASSWORD``);
- every other literal value is copied as it is: compose hands it to the container whatever the
  host environment says, so wrapping it in ``${NAME:-value}`` would let an unrelated host
  variable (USER, PATH, LANG) silently change it.

Names ending in _FILE or _PATH hold paths, and yes/no/true/false/0/1 values are flags: neither is
a secret. When in doubt a value is treated as a secret: a spurious ``${NAME}`` costs one line in
.env, a leaked password cannot be taken back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_SECRET_WORDS = frozenset(
    {
        "PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "SECRETS", "TOKEN", "KEY", "APIKEY",
        "SALT", "CREDENTIAL", "CREDENTIALS", "PRIVATE", "AUTH", "DSN", "PASSPHRASE", "COOKIE",
    }
)  # fmt: skip
# access keys that are half of a credential pair although their names look harmless
_SECRET_NAMES = frozenset({"MINIO_ROOT_USER", "MINIO_ACCESS_KEY", "AWS_ACCESS_KEY_ID"})
_FLAGS = frozenset({"", "yes", "no", "true", "false", "0", "1", "on", "off", "y", "n"})

_REFERENCE = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>(?::?[-?+])[^}]*)?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))$"
)
_URL_PASSWORD = re.compile(
    r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)(?P<password>[^@/\s]+)(?P<tail>@.*)$"
)
_VARIABLE = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?[^}]*\}|\$(?P<bare>[A-Za-z_]\w*)"
)
# argv flags whose next word (or =value) is a password, in the clients a healthcheck or command uses
_PASSWORD_FLAGS = ("--requirepass", "--masterauth", "--password", "--pass", "-a", "-p")
_FLAG_ALTERNATIVES = "|".join(re.escape(f) for f in _PASSWORD_FLAGS)


def is_secret_name(name: str) -> bool:
    """True when a variable's name says it holds a secret (a password, token, key, ...)."""
    upper = name.upper()
    if upper in _SECRET_NAMES:
        return True
    if upper.endswith(("_FILE", "_PATH")):
        return False
    return any(word in _SECRET_WORDS for word in re.split(r"[^A-Z0-9]+", upper))


def reference_name(value: str) -> str | None:
    """The variable a value refers to when the value is exactly one ``${NAME...}`` / ``$NAME``."""
    match = _REFERENCE.match(value)
    if match is None:
        return None
    return match.group("braced") or match.group("named")


def without_default(value: str) -> str:
    """A single reference with any ``:-default`` / ``-default`` removed (``:?error`` is kept)."""
    match = _REFERENCE.match(value)
    if match is None:
        return value
    name = match.group("braced") or match.group("named")
    rest = match.group("rest") or ""
    if rest.startswith(("?", ":?")):
        return value
    return "${" + name + "}"


@dataclass
class SecretBook:
    """The literal secrets met while importing, each mapped to the variable that replaces it.

    The literals stay in memory only, so that they can be recognised again (in a command line,
    in another service) and replaced there too; they are never written anywhere.
    """

    _by_value: dict[str, str] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict)

    def reference(self, name: str, literal: str, service: str) -> str:
        """``${VAR}`` standing for ``literal``, the value of ``name`` in ``service``."""
        if literal in self._by_value:
            return "${" + self._by_value[literal] + "}"
        var = name
        if var in self._by_name:
            var = re.sub(r"[^A-Z0-9]+", "_", f"{service}_{name}".upper()).strip("_")
        self._by_value[literal] = var
        self._by_name[var] = literal
        return "${" + var + "}"

    def scrub_argv(self, argv: list[str]) -> list[str]:
        """An argv with every known literal secret replaced by its variable.

        Long secrets are replaced wherever they occur; short ones only where a password flag
        announces them, so a password such as "postgres" does not rewrite the program name.
        """
        out: list[str] = []
        after_flag = False
        for word in argv:
            out.append(self._scrub_word(word, whole=after_flag))
            after_flag = word in _PASSWORD_FLAGS
        return out

    def _scrub_word(self, word: str, *, whole: bool) -> str:
        for literal, var in sorted(self._by_value.items(), key=lambda kv: -len(kv[0])):
            ref = "${" + var + "}"
            if whole and word == literal:
                return ref
            if len(literal) >= 8:
                word = word.replace(literal, ref)
            flagged = re.compile(
                rf"(?<![^\s'\"])(?P<flag>{_FLAG_ALTERNATIVES})(?P<sep>=|\s+|)(?P<q>['\"]?)"
                rf"{re.escape(literal)}(?P=q)(?=[\s'\";|&)]|$)"
            )
            word = flagged.sub(rf"\g<flag>\g<sep>\g<q>{_escape_repl(ref)}\g<q>", word)
        return word


def _escape_repl(text: str) -> str:
    return text.replace("\\", "\\\\")


def import_value(name: str, value: str | None, service: str, book: SecretBook) -> str:
    """The seawall.yaml value of one compose environment variable (see the module's rule)."""
    if value is None:
        # `- NAME` without a value passes the host's variable through, or nothing when unset
        return "${" + name + "}" if is_secret_name(name) else "${" + name + "-}"
    if reference_name(value) is not None:
        return without_default(value) if is_secret_name(name) else value
    url = _URL_PASSWORD.match(value)
    if url is not None:
        password = url.group("password")
        if reference_name(password) is not None:
            return url.group("head") + without_default(password) + url.group("tail")
        # only the password is replaced, so the URL stays readable and its host visible
        return url.group("head") + book.reference(f"{name}_PASSWORD", password, service) + url.group("tail")
    if is_secret_name(name) and value.strip().lower() not in _FLAGS:
        if "$" in value and not _has_literal_outside_references(value):
            return value
        return book.reference(name, value, service)
    return value


def _has_literal_outside_references(value: str) -> bool:
    return bool(_VARIABLE.sub("", value).strip())


def import_environment(service: str, raw: Mapping[str, str | None], book: SecretBook) -> dict[str, str]:
    """A service's whole environment as seawall.yaml holds it."""
    return {name: import_value(name, value, service, book) for name, value in raw.items()}


def required_variables(data: Any) -> Iterator[str]:
    """Variables referenced without a default anywhere in ``data`` (each once, in order met)."""
    seen: set[str] = set()
    for text in _strings(data):
        for match in _VARIABLE.finditer(text.replace("$$", "")):
            name = match.group("name") or match.group("bare")
            op = match.group("op") or ""
            if name not in seen and (not op or op.endswith("?")):
                seen.add(name)
                yield name


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _strings(value)
