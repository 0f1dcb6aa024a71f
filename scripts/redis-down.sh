#!/usr/bin/env bash
# Stops the test redis-server scripts/redis-up.sh started (if any).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_REDIS_DIR:-$root/target/redis}"
pidfile="$dir/redis.pid"
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
# A daemon that has exited but is not reaped yet (a zombie) is gone too.
running() {
    kill -0 "$pid" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}
kill "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
    running || { rm -f "$pidfile"; exit 0; }
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
rm -f "$pidfile"
