"""`DirectorySnapshot.entries`: one read-only view over the Rust snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import muster

ROWS = [
    ("Ann", "Lee", "ann@example.com", "", "ann.lee@example.com"),
    ("Bob", "Ray", "bob@example.com", "+1 555 0100", ""),
    ("Carol", "", "carol@example.com", "", ""),
]


@pytest.fixture
def snapshot(tmp_path: Path) -> muster.DirectorySnapshot:
    path = tmp_path / "users.csv"
    lines = ["First Name,Last Name,Primary Email,Mobile,Alias 1"]
    lines += [",".join(r) for r in ROWS]
    path.write_text("\n".join(lines) + "\n")
    return muster.StandardCsv(path).read()


def test_entries_is_one_read_only_sequence(snapshot: muster.DirectorySnapshot) -> None:
    entries = snapshot.entries
    assert entries is snapshot.entries, "built once, the same object on every access"
    assert isinstance(entries, Sequence) and not isinstance(entries, list)
    assert len(entries) == len(snapshot) == 3
    assert [e["primary_email"] for e in entries] == [r[2] for r in ROWS]
    assert entries[0]["aliases"] == ["ann.lee@example.com"]
    assert entries[-1]["primary_email"] == "carol@example.com"
    assert [e["primary_email"] for e in entries[1:]] == ["bob@example.com", "carol@example.com"]
    assert [e["primary_email"] for e in entries[::-2]] == ["carol@example.com", "ann@example.com"]
    assert [e["primary_email"] for e in reversed(entries)][0] == "carol@example.com"
    assert entries[1] in entries and entries.index(entries[1]) == 1
    assert entries.count(entries[2]) == 1
    with pytest.raises(IndexError):
        entries[3]
    with pytest.raises(IndexError):
        entries[-4]
    with pytest.raises(TypeError, match="integers or slices"):
        entries["ann@example.com"]  # type: ignore[call-overload]
    with pytest.raises((TypeError, AttributeError)):
        entries[0] = {}  # type: ignore[index]


def test_an_edited_entry_changes_neither_the_snapshot_nor_the_next_read(
    snapshot: muster.DirectorySnapshot,
) -> None:
    first = snapshot.entries[0]
    first["primary_email"] = "mallory@example.com"
    first["aliases"].append("x@example.com")
    assert snapshot.entries[0]["primary_email"] == "ann@example.com"
    assert snapshot.entries[0]["aliases"] == ["ann.lee@example.com"]
    assert snapshot.entries[0] is not snapshot.entries[0], "a new dict per read: no aliasing"


def test_iterators_are_independent(snapshot: muster.DirectorySnapshot) -> None:
    a, b = iter(snapshot.entries), iter(snapshot.entries)
    assert next(a)["primary_email"] == "ann@example.com"
    assert next(a)["primary_email"] == "bob@example.com"
    assert next(b)["primary_email"] == "ann@example.com"
    assert len(list(a)) == 1 and list(a) == []


def test_a_planned_snapshot_still_plans_after_entries_were_read(
    snapshot: muster.DirectorySnapshot,
) -> None:
    list(snapshot.entries)
    plan = muster.plan([], snapshot, org="example.com")
    assert sorted(c["email"] for c in plan.changes) == [r[2] for r in ROWS]
