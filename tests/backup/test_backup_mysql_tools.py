"""Which dump tool a MariaDB or MySQL server gets (pure: the tools' --version lines are given)."""

from __future__ import annotations

import pytest

from seawall.backup.sources.mysql_tools import choose_dump_tool

MARIADB_DUMP = "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
MARIADB_LINK = "mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)"
ORACLE_8 = "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"
ORACLE_84 = "mysqldump  Ver 8.4.0 for Linux on x86_64 (MySQL Community Server - GPL)"
ORACLE_57 = "mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)"


@pytest.mark.parametrize(
    ("mariadb_server", "versions", "chosen"),
    [
        (True, {"mariadb-dump": MARIADB_DUMP, "mysqldump": MARIADB_LINK}, ("mariadb-dump", ())),
        (True, {"mariadb-dump": MARIADB_DUMP, "mysqldump": ORACLE_8}, ("mariadb-dump", ())),
        (False, {"mariadb-dump": MARIADB_DUMP, "mysqldump": MARIADB_LINK}, ("mariadb-dump", ())),
        (False, {"mariadb-dump": MARIADB_DUMP, "mysqldump": ORACLE_84}, ("mysqldump", ())),
        (False, {"mysqldump": ORACLE_57}, ("mysqldump", ())),
        (True, {"mysqldump": ORACLE_8}, ("mysqldump", ("--column-statistics=0",))),
        (True, {"mysqldump": ORACLE_57}, ("mysqldump", ())),
        (True, {"mysqldump": MARIADB_LINK}, ("mysqldump", ())),
    ],
    ids=[
        "mariadb-prefers-mariadb-dump",
        "mariadb-prefers-mariadb-dump-over-oracle",
        "mysql-without-oracle-mysqldump-takes-mariadb-dump",
        "mysql-prefers-oracle-mysqldump",
        "mysql-with-only-mysqldump-5.7",
        "oracle-8-on-mariadb-skips-column-statistics",
        "oracle-5.7-on-mariadb-has-no-such-option",
        "mariadbs-own-mysqldump-needs-nothing",
    ],
)
def test_the_dump_tool_fits_the_server(
    mariadb_server: bool, versions: dict[str, str], chosen: tuple[str, tuple[str, ...]]
) -> None:
    assert choose_dump_tool(mariadb_server, versions) == chosen
