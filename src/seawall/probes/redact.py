"""Keeping secrets out of probe details: passwords in URLs and in error messages."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^/\s:@]*:)[^@\s/]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (user, host and path are kept)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK  # unparseable: it may hold anything, show none of it
    if password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))


def secrets_of(url: str) -> tuple[str, ...]:
    """The password a URL carries, in its raw and percent-decoded forms (empty if none)."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return ()
    return tuple(sorted({raw, unquote(raw)}, key=len, reverse=True)) if raw else ()


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every non-empty secret replaced by ``***``, and any URL password masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
