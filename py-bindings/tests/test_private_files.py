"""Every file the Python package writes holds directory data: owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import muster


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_muster_writes_is_private(
    gw: muster.Gateway, hr: muster.HrRecords, tmp_path: Path
) -> None:
    # Whatever the process's umask would give a plain open().
    old = os.umask(0o022)
    try:
        plan = muster.functional_accounts(gw.list_users(), hr, override_threshold=True)
        written = {
            "preview.csv": lambda p: plan.to_csv(p),
            "plan.json": lambda p: plan.to_json(p),
        }
        for name, write in written.items():
            path = tmp_path / name
            write(path)
            assert path.read_text(), name
            assert mode(path) == 0o600, f"{name}: {oct(mode(path))}"
        # Writing again replaces the file and keeps it private.
        plan.to_csv(tmp_path / "preview.csv")
        assert mode(tmp_path / "preview.csv") == 0o600
        journal = tmp_path / "apply.journal"
        gw.apply(plan, journal=journal)
        assert mode(journal) == 0o600
    finally:
        os.umask(old)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
