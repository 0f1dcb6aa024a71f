#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every check.
#
#   scripts/test.sh            # everything
#   MUSTER_SKIP_INSTALL=1 scripts/test.sh   # do not try to install anything
#
# Exits non-zero if any step fails; prints a summary at the end.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# Snapshot tests must never rewrite their snapshots in a test run.
export INSTA_UPDATE=no

declare -a STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
FAILED=0

log() { printf '\n==> %s\n' "$*"; }

run_step() {
    local name=$1; shift
    log "$name"
    local start=$SECONDS
    if "$@"; then
        STEP_RESULTS+=("ok")
    else
        STEP_RESULTS+=("FAILED")
        FAILED=1
    fi
    STEP_NAMES+=("$name")
    STEP_TIMES+=("$((SECONDS - start))s")
}

# --- installs (idempotent: only what is absent) -------------------------------

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
apt_install() { install_missing test.sh "$@"; }

install_prerequisites() {
    # A C compiler and pkg-config for the TLS crates' build scripts.
    apt_install build-essential pkg-config ca-certificates || return 1
    # The directory server the LDAP tests read (scripts/ldap-up.sh starts it).
    apt_install slapd ldap-utils || return 1
    # The Active Directory domain controller the AD tests read
    # (scripts/samba-up.sh provisions and starts it; without the provisioning
    # data, the DC's database modules and the ACL module, provisioning fails).
    apt_install samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools || return 1
    # The shared rate limit's store the Redis tests use (scripts/redis-up.sh starts it).
    apt_install redis-server redis-tools || return 1
    if ! command -v cargo >/dev/null; then
        echo "cargo is not installed; install Rust 1.89 or newer" >&2
        return 1
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        cargo install --locked cargo-nextest || return 1
    fi
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy || return 1
    fi
    # The Python package: maturin builds the wheel; py-bindings/test.sh makes
    # a venv under target/ and installs pytest and mypy into it.
    if ! command -v maturin >/dev/null && ! python3 -m maturin --version >/dev/null 2>&1; then
        python3 -m pip install --quiet maturin || return 1
    fi
}

if [ "${MUSTER_SKIP_INSTALL:-0}" != "1" ]; then
    run_step "install prerequisites" install_prerequisites
fi

# --- services -----------------------------------------------------------------

start_ldap() {
    # A throw-away OpenLDAP server with AD's user schema on 127.0.0.1; its
    # address and accounts go into the environment the tests read.
    local env
    env=$("$ROOT/scripts/ldap-up.sh") || return 1
    eval "$env"
}
start_ad() {
    # A throw-away Samba AD domain controller on 127.0.0.1 (reused while it
    # runs); its URLs, accounts and CA go into the environment the AD tests read.
    local env
    env=$("$ROOT/scripts/samba-up.sh") || return 1
    eval "$env"
}
start_redis() {
    # A throw-away redis-server (no persistence, a fresh password) on
    # 127.0.0.1 for the shared rate limit; its URL goes into the environment.
    local env
    env=$("$ROOT/scripts/redis-up.sh") || return 1
    eval "$env"
}
trap '"$ROOT/scripts/ldap-down.sh"; "$ROOT/scripts/samba-down.sh"; "$ROOT/scripts/redis-down.sh"' EXIT
run_step "start the test LDAP server" start_ldap
run_step "start the test AD domain controller" start_ad
run_step "start the test Redis server" start_redis

# --- checks -------------------------------------------------------------------

run_step "cargo fmt --check" cargo fmt --all -- --check
run_step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings
run_step "tests (nextest)" cargo nextest run --workspace --locked --no-fail-fast
# The same tests as `cargo test` runs them, many to a process (what a
# newcomer types first: tests that share a process must not disturb each
# other), and the doc tests, which nextest does not run.
run_step "tests (cargo test, doc tests included)" cargo test --workspace --locked --no-fail-fast
run_step "python package (wheel + pytest)" bash py-bindings/test.sh
run_step "rustdoc -D warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# --- summary ------------------------------------------------------------------

printf '\n==> summary\n'
for i in "${!STEP_NAMES[@]}"; do
    printf '  %-32s %-7s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}"
done
if [ $FAILED -ne 0 ]; then
    echo "scripts/test.sh: FAILED"
    exit 1
fi
echo "scripts/test.sh: all checks passed"
