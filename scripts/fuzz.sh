#!/usr/bin/env bash
# Runs the cargo-fuzz targets (every parser muster has) for a while each.
#
#   scripts/fuzz.sh [seconds-per-target]   (default 60)
#
# Not part of the test suite (scripts/test.sh): fuzzing needs libFuzzer and
# unstable compiler flags. Nightly is not on every machine, so with a stable
# toolchain the build uses RUSTC_BOOTSTRAP=1; if the fuzz build still cannot
# be made, the script says so and exits 0 rather than failing a pipeline.
# Findings (crashing inputs) land in fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (absent)"
    cargo install cargo-fuzz --locked
fi

if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

# AddressSanitizer needs its runtime; fall back to no sanitizer (all our code
# is safe Rust, so panics are what we hunt) when it is not available.
sanitizer=address
if ! cargo fuzz build --sanitizer "$sanitizer" >/tmp/muster-fuzz-build.log 2>&1; then
    sanitizer=none
    if ! cargo fuzz build --sanitizer "$sanitizer" >>/tmp/muster-fuzz-build.log 2>&1; then
        echo "fuzz.sh: SKIPPED: cannot build the fuzz targets on this toolchain ($(rustc --version))."
        echo "fuzz.sh: see /tmp/muster-fuzz-build.log"
        exit 0
    fi
fi

status=0
for target in $(cargo fuzz list); do
    mkdir -p "target/corpus/$target"
    echo "fuzz.sh: $target for ${seconds}s (sanitizer: $sanitizer)"
    # First directory collects new inputs; the committed seeds in seeds/ stay untouched.
    if ! cargo fuzz run --sanitizer "$sanitizer" "$target" "target/corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 15; then
        status=1
    fi
    if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
        echo "fuzz.sh: $target FOUND crashing inputs in fuzz/artifacts/$target/"
        status=1
    fi
done
exit "$status"
