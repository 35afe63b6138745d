#!/usr/bin/env bash
# Debian packages the tests drive for real. Installs only what is missing, so repeat runs are fast.
set -euo pipefail
declare -A need=(
    [pg_dump]=postgresql-client
    [redis-cli]=redis-tools
    [redis-server]=redis-server
    [mariadb]=mariadb-client
    [sqlite3]=sqlite3
    [pgrep]=procps
)
missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
