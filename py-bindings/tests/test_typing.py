"""The stubs type-check what users write: `mypy --strict` rejects the
planted mistakes of typing/misspelt.py, each with its error code, and
reports nothing else (so the correct lines there type-check too)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "typing" / "misspelt.py"


def expected() -> set[tuple[int, str]]:
    marks = set()
    for n, line in enumerate(SCRIPT.read_text().splitlines(), start=1):
        m = re.search(r"# E: ([a-z-]+)$", line)
        if m:
            marks.add((n, m.group(1)))
    return marks


def test_mypy_strict_rejects_exactly_the_planted_mistakes(tmp_path: Path) -> None:
    marks = expected()
    assert len(marks) >= 15, "the script must plant its mistakes"
    # Against the installed package (its stubs and py.typed), never the source tree.
    run = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict", "--no-incremental",
            "--show-error-codes", "--no-error-summary", "--hide-error-context",
            "--cache-dir", str(tmp_path / "cache"), str(SCRIPT),
        ],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode in (0, 1), run.stderr
    found = set()
    for line in run.stdout.splitlines():
        if ": note: " in line:
            continue
        m = re.match(r".*misspelt\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        assert m, f"not an error of the script: {line}"
        found.add((int(m.group(1)), m.group(2)))
    missed = sorted(marks - found)
    extra = sorted(found - marks)
    assert not missed and not extra, f"missed {missed}, unexpected {extra}:\n{run.stdout}"
