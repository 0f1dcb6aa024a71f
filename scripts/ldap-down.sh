#!/usr/bin/env bash
# Stops the test LDAP server scripts/ldap-up.sh started (if any).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_LDAP_DIR:-$root/target/ldap}"
pidfile="$dir/slapd.pid"
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
kill "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
