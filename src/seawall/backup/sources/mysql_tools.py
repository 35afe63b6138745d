"""Which dump tool backs up a MariaDB or MySQL server, and the options it needs there."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping

from seawall.backup.procs import find_tool, run_tool

NAMES = ("mariadb-dump", "mysqldump")
_VERSION = re.compile(r"\bVer (\d+)\.(?:\S+ Distrib (\d+)\.)?")


def oracle_major(version: str | None) -> int | None:
    """The major version of an Oracle MySQL tool from its ``--version`` line (None: MariaDB's, or none)."""
    if version is None or "mariadb" in version.lower():
        return None
    found = _VERSION.search(version)  # 5.7 says "Ver 10.13 Distrib 5.7.44", 8.x "Ver 8.0.36"
    return int(found.group(2) or found.group(1)) if found else None


def choose_dump_tool(mariadb_server: bool, versions: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """The name of the tool to use among those found (name: ``--version`` line), and extra options.

    mariadb-dump is preferred, but a MySQL server is dumped by MySQL's own mysqldump when there is
    one (its dialect is the server's); ``mysqldump`` is often only a link to mariadb-dump.
    """
    oracle = oracle_major(versions.get("mysqldump"))
    if not mariadb_server and oracle is not None:
        return "mysqldump", ()
    if "mariadb-dump" in versions:
        return "mariadb-dump", ()
    # Oracle's mysqldump 8 reads column statistics that MariaDB does not keep, and fails there
    extra = ("--column-statistics=0",) if mariadb_server and oracle is not None and oracle >= 8 else ()
    return "mysqldump", extra


def dump_tool(mariadb_server: bool) -> tuple[str, str, tuple[str, ...]]:
    """The chosen tool's path, its version line and its extra options (ToolMissingError: none found)."""
    found = {name: path for name in NAMES if (path := shutil.which(name))}
    if not found:
        find_tool(*NAMES)  # raises, naming both
    versions = {name: run_tool([path, "--version"]).strip() for name, path in found.items()}
    name, extra = choose_dump_tool(mariadb_server, versions)
    return found[name], versions[name], extra
