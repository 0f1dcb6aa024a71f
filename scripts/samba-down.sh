#!/usr/bin/env bash
# Stops the test domain controller scripts/samba-up.sh started (if any) and
# removes its directory (database, keys, passwords).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_AD_DIR:-$root/target/samba}"
pidfile="$dir/run/samba.pid"
if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile")"
    # The root process takes its workers down with it.
    kill "$pid" 2>/dev/null || true
    stopped=0
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            stopped=1
            break
        fi
        sleep 0.1
    done
    if [ "$stopped" -eq 0 ]; then
        echo "samba-down: samba ($pid) did not stop within 10s; killing it" >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
fi
rm -rf "$dir"
