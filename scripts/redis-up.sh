#!/usr/bin/env bash
# Starts a throw-away redis-server on 127.0.0.1 for the shared-rate-limit
# tests, and prints the environment they read:
#
#   eval "$(scripts/redis-up.sh)"
#
# Installs Debian's redis-server when missing. The server keeps nothing on
# disk (no RDB snapshots, no AOF), lives in target/redis (MUSTER_REDIS_DIR)
# and listens on 127.0.0.1:6390 (MUSTER_REDIS_PORT) only. It requires a
# password, made fresh at each start, so the tests can check that the URL's
# password never shows in an error or a Debug print. Stop it with
# scripts/redis-down.sh.
#
# One server per directory and port: when the one this script started is
# still running and answering, its environment is printed again instead of
# restarting it, so test runs that share the machine do not pull the
# password from under each other. Set MUSTER_REDIS_FRESH=1 to restart it
# anyway.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MUSTER_REDIS_DIR:-$root/target/redis}"
port="${MUSTER_REDIS_PORT:-6390}"
export PATH="$PATH:/usr/sbin:/sbin"

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
install_missing redis-up redis-server redis-tools

# Two runs starting at once take turns (the lock lives beside the directory,
# which a start deletes).
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

answers() {
    # PING answered PONG with this password, within a second.
    [ "$(REDISCLI_AUTH="$1" timeout 1 redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning ping 2>/dev/null)" = PONG ]
}

env_file="$dir/env"
stamp="$(cat "$0" "$root"/scripts/lib.sh | sha256sum | cut -d' ' -f1) $port"
if [ "${MUSTER_REDIS_FRESH:-0}" != 1 ] && [ -f "$env_file" ] && [ -f "$dir/redis.pid" ] &&
    [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] &&
    kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null &&
    answers "$(cat "$dir/password")"; then
    echo "redis-up: reusing the running test server" >&2
    cat "$env_file"
    exit 0
fi

"$root/scripts/redis-down.sh" >&2 || true
rm -rf "$dir"
mkdir -p "$dir"
umask 077
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
echo "$password" >"$dir/password"

# No persistence (save "", appendonly no): a test budget dies with the
# server. The config file holds the password, so it is the owner's only.
cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
requirepass $password
CONF

# Without the lock's descriptor: the daemon would hold the lock for its life.
redis-server "$dir/redis.conf" >&2 9>&-

# Wait for PING to answer (10 s at most), never a fixed sleep.
deadline=$((SECONDS + 10))
until answers "$password"; do
    if [ $SECONDS -ge $deadline ]; then
        echo "redis-up: redis-server did not answer PING on 127.0.0.1:$port within 10 s" >&2
        tail -n 20 "$dir/redis.log" >&2 || true
        exit 1
    fi
    sleep 0.05
done

# The environment, kept (readable by this user only: it holds the password)
# for the next run that reuses this server.
{
    echo "export MUSTER_REDIS_URL=redis://:$password@127.0.0.1:$port/0"
} >"$env_file"
echo "$stamp" >"$dir/stamp"
cat "$env_file"
