"""The example script runs as shipped, against the emulator."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import muster
from muster.testing import Emulator

from conftest import ORG

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hr_functional_accounts.py"


def _example():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("hr_functional_accounts", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_previews_then_applies(
    emu: Emulator, gw: muster.Gateway, hr: muster.HrRecords, tmp_path: Path, capsys
) -> None:
    example = _example()
    emu.clear_observations()
    assert example.run(gw, hr, apply=False, preview_csv=str(tmp_path / "p.csv")) is None
    assert emu.writes() == []
    assert "bob@example.com" in capsys.readouterr().out
    report = example.run(
        gw, hr, apply=True, preview_csv=str(tmp_path / "p.csv"), journal=str(tmp_path / "j")
    )
    assert report.counts["applied"] == 2
    assert emu.user(ORG, "carol@example.com")["type"] == "functional_account"
    assert example.run(gw, hr, apply=True, preview_csv=str(tmp_path / "p.csv")) is None
