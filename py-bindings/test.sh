#!/usr/bin/env bash
# Builds the wheel of the Python package `muster` with maturin, installs it
# into a virtualenv under target/, and runs the pytest suite against the
# installed wheel (never against the source tree).
#
#   py-bindings/test.sh            # from anywhere
#   PYTHON=python3.11 py-bindings/test.sh -k stale   # extra args go to pytest
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
wheels="$target/wheels"
venv="$target/py-venv"
python="${PYTHON:-python3}"

if command -v maturin >/dev/null 2>&1; then
    maturin=(maturin)
else
    maturin=("$python" -m maturin)
fi

# Old wheels of this package would make the glob below ambiguous.
mkdir -p "$wheels"
rm -f "$wheels"/muster-*.whl
# A dev-profile build shares the workspace's compiled dependencies; CARGO_BUILD_JOBS
# (if set) limits the parallelism as for cargo.
"${maturin[@]}" build --manifest-path "$here/Cargo.toml" --interpreter "$python" --out "$wheels"
wheel=("$wheels"/muster-*.whl)

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${wheel[0]}"
# celery[redis] and its stubs: tests/test_celery_fleet.py runs examples/celery_fleet
# on a real worker (and mypy --strict on it).
if ! "$venv/bin/python" -c "import pytest, mypy.stubtest, celery, redis" >/dev/null 2>&1 ||
    ! "$venv/bin/python" -m pip show --quiet celery-types >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pytest mypy \
        'celery[redis]>=5.4,<6' 'celery-types>=0.23,<1'
fi

# Run from the tests folder with the source tree off sys.path: `import
# muster` must find the installed wheel (a test checks that it does).
cd "$here/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" "$here/tests"

# The stubs must describe the compiled module as it is (names, parameters,
# defaults), checked against the installed package.
cd "$target"
"$venv/bin/python" -m mypy.stubtest --allowlist "$here/stubtest-allowlist.txt" muster
echo "stubtest: muster matches its stubs"
# ...and type a script written against them.
"$venv/bin/python" -m mypy --strict --no-incremental "$here/examples"
