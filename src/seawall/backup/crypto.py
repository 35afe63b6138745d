"""age encryption of artifacts: X25519 recipients, or a passphrase that wraps a per-backup key.

pyrage streams only for X25519 recipients (``encrypt_io``); its passphrase mode takes whole
byte strings and costs one scrypt run per call. So a passphrase never touches the data: each
backup gets a fresh X25519 identity, the data is encrypted to it in one stream, and the identity
itself is encrypted with the passphrase (age scrypt) and stored, base64, in the manifest.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage  # type: ignore[import-untyped]

from seawall.backup.errors import KeyRequired
from seawall.errors import ConfigError, UserError

_KEYS = {"recipients", "recipients_file", "identity_file", "passphrase", "passphrase_env"}


@dataclass(frozen=True, slots=True)
class Encryption:
    """The stack's encryption settings, validated (``backup.encryption`` in seawall.yaml)."""

    recipients: tuple[str, ...] = ()
    identity_file: Path | None = None
    passphrase: str | None = None

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any] | None, resolve: Any) -> Encryption | None:
        """Parse the mapping; ``resolve`` makes relative paths absolute against the stack directory."""
        if not raw:
            return None
        unknown = set(raw) - _KEYS
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}", key="backup.encryption")
        recipients = [str(r).strip() for r in raw.get("recipients") or []]
        if raw.get("recipients_file"):
            text = _read(resolve(str(raw["recipients_file"])), "recipients_file")
            recipients += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        identity = resolve(str(raw["identity_file"])) if raw.get("identity_file") else None
        passphrase = raw.get("passphrase")
        if raw.get("passphrase_env"):
            passphrase = os.environ.get(str(raw["passphrase_env"]))
            if not passphrase:
                raise ConfigError(
                    f"environment variable {raw['passphrase_env']} is not set", key="backup.encryption"
                )
        for r in recipients:
            parse_recipient(r)
        if identity is not None and identity.is_file():
            recipients.append(str(load_identity(identity).to_public()))
        if not recipients and not passphrase and identity is None:
            raise ConfigError(
                "needs recipients, an identity_file or a passphrase",
                key="backup.encryption",
                hint="run `seawall backup keygen` and put its identity file under backup.encryption",
            )
        return cls(tuple(dict.fromkeys(recipients)), identity, str(passphrase) if passphrase else None)


def _read(path: Path, key: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", key=f"backup.encryption.{key}") from exc


def parse_recipient(text: str) -> Any:
    """An X25519 recipient (``age1...``)."""
    try:
        return pyrage.x25519.Recipient.from_str(text)
    except Exception as exc:  # pyrage raises its own RecipientError / ValueError
        raise ConfigError(f"invalid age recipient {text[:12]!r}...", key="backup.encryption") from exc


def load_identity(path: Path) -> Any:
    """The X25519 identity in an age key file (comment lines allowed)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyRequired(f"cannot read the identity file {path}: {exc.strerror}") from exc
    for line in text.splitlines():
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                return pyrage.x25519.Identity.from_str(line.strip())
            except Exception as exc:
                raise KeyRequired(f"{path} does not hold a valid age identity") from exc
    raise KeyRequired(f"{path} does not hold an age identity (AGE-SECRET-KEY-...)")


@dataclass(frozen=True, slots=True)
class Sealing:
    """How one backup is encrypted: the recipients for the data and what the manifest records."""

    recipients: tuple[Any, ...]
    record: dict[str, Any]


def seal(enc: Encryption) -> Sealing:
    """Recipients for a new backup; with a passphrase, a fresh identity wrapped by it."""
    recipients = [parse_recipient(r) for r in enc.recipients]
    record: dict[str, Any] = {"method": "age", "recipients": list(enc.recipients)}
    if enc.passphrase:
        ident = pyrage.x25519.Identity.generate()
        recipients.append(ident.to_public())
        wrapped = pyrage.passphrase.encrypt(str(ident).encode(), enc.passphrase)
        record["wrapped_identity"] = base64.b64encode(wrapped).decode()
    if not recipients:
        # never write an unencrypted artifact under a manifest that says "age"
        raise KeyRequired(f"nothing to encrypt to: cannot read the identity file {enc.identity_file}")
    return Sealing(tuple(recipients), record)


def identities_for(record: Mapping[str, Any], enc: Encryption | None, backup_id: str) -> list[Any]:
    """Identities that may open a backup sealed as ``record``; KeyRequired when there are none.

    Each key source is tried on its own: a missing identity file does not stop the passphrase
    from opening the backup, nor a mistyped passphrase a good identity file. Only when none
    yields a key does it fail, naming what each one said.
    """
    found: list[Any] = []
    problems: list[str] = []
    if enc is not None and enc.identity_file is not None:
        try:
            found.append(load_identity(enc.identity_file))
        except KeyRequired as exc:
            problems.append(exc.message)
    wrapped = record.get("wrapped_identity")
    if wrapped and enc is not None and enc.passphrase:
        try:
            text = pyrage.passphrase.decrypt(base64.b64decode(wrapped), enc.passphrase)
            found.append(pyrage.x25519.Identity.from_str(text.decode()))
        except Exception:  # pyrage raises its own DecryptError, or a bad record a ValueError
            problems.append(f"the passphrase does not open backup {backup_id}")
    if found:
        return found
    if problems:
        raise KeyRequired("; ".join(problems))
    raise KeyRequired(
        f"backup {backup_id} is encrypted and no key is configured to open it",
        hint="set backup.encryption.identity_file (or a passphrase) in seawall.yaml, or pass --identity",
    )


def keygen(path: Path) -> str:
    """Write a new X25519 identity to ``path`` (mode 0600, never overwriting); return its recipient."""
    ident = pyrage.x25519.Identity.generate()
    public = str(ident.to_public())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "w") as out:
        out.write(f"# created by seawall backup keygen\n# public key: {public}\n{ident}\n")
    return public
