#!/usr/bin/env bash
# The peers the benchmarks compare against (bench/*.py): installs only what is missing.
set -euo pipefail
declare -A need=(
    [iperf3]=iperf3
    [haproxy]=haproxy
    [redis-benchmark]=redis-tools
    [zstd]=zstd
    [tar]=tar
    [pg_restore]=postgresql-client
)
missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if ((${#missing[@]})); then
    echo "installing benchmark peers: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
