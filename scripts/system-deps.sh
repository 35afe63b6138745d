#!/usr/bin/env bash
# Debian packages the tests drive for real (setpriv comes with util-linux, which Debian always has).
set -euo pipefail
exec bash "$(dirname "$0")/apt-need.sh" \
    pg_dump=postgresql-client \
    redis-cli=redis-tools \
    redis-server=redis-server \
    mariadb=mariadb-client \
    sqlite3=sqlite3 \
    pgrep=procps \
    setpriv=util-linux
