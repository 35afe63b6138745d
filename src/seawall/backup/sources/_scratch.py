"""Names of scratch databases (``verify --deep``) that say who made them, so leftovers can be swept.

A verification killed with SIGKILL never reaches the ``finally`` that drops its scratch database.
The name carries a short hash of this host's name and the creating pid; the next verification on
the same host drops those whose process is gone. Another host's or a live process's databases are
never touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from collections.abc import Iterable

PREFIX = "seawall_verify_"
_NAME = re.compile(rf"^{PREFIX}([0-9a-f]{{6}})_(\d+)_[0-9a-f]+$")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def scratch_name() -> str:
    """A new scratch database name: prefix, host hash, pid, random part (well under 63 characters)."""
    return f"{PREFIX}{_host()}_{os.getpid()}_{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def stale(names: Iterable[str]) -> list[str]:
    """The scratch databases among ``names`` made on this host by processes that no longer exist."""
    here = _host()
    out = []
    for name in names:
        match = _NAME.match(name)
        if match and match.group(1) == here and not _alive(int(match.group(2))):
            out.append(name)
    return out


__all__ = ["PREFIX", "scratch_name", "stale"]
