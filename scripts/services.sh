#!/usr/bin/env bash
# Make sure the machine's PostgreSQL, Redis and MariaDB servers (which the integration tests use,
# each test creating and dropping its own databases) are up; start any that stopped.
set -uo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
if ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && [ -x /usr/sbin/mariadbd ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
        && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 \
        && mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && exit 0
    sleep 1
done
echo "warning: not every test server is up; integration tests that need one will fail" >&2
