#!/usr/bin/env bash
# The peers the benchmarks compare against (bench/*.py).
set -euo pipefail
exec bash "$(dirname "$0")/apt-need.sh" \
    iperf3=iperf3 \
    haproxy=haproxy \
    redis-benchmark=redis-tools \
    zstd=zstd \
    tar=tar \
    pg_restore=postgresql-client
