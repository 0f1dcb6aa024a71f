"""`muster.MappedCsv` and `muster.PostiniCsv`: the config's CSV kinds from Python."""

from __future__ import annotations

from pathlib import Path

import pytest

import muster

POSTINI_USERS = """user_id,primary_email,first_name,last_name
1,ann@example.com,Ann,Lee
2,bob@example.com,Bob,Ray
"""
POSTINI_ALIASES = """alias,user_id
ann.lee@example.com,1
robert@example.com,2
ghost@example.com,9
"""


def test_postini_users_joined_with_their_aliases(tmp_path: Path) -> None:
    users, aliases = tmp_path / "users.csv", tmp_path / "aliases.csv"
    users.write_text(POSTINI_USERS)
    aliases.write_text(POSTINI_ALIASES)
    snap = muster.PostiniCsv(
        users,
        aliases=aliases,
        user_columns={"primary": "primary_email", "first_name": "first_name"},
        alias_columns={"address": "alias"},
        name="postini",
    ).read()
    assert snap.source == "postini"
    by = {e["primary_email"]: e for e in snap.entries}
    assert by["ann@example.com"]["aliases"] == ["ann.lee@example.com"]
    assert by["bob@example.com"]["aliases"] == ["robert@example.com"]
    assert by["ann@example.com"]["first_name"] == "Ann"
    # The alias of a user the user export does not list is an issue, not a user.
    assert any("ghost@example.com" in i["message"] for i in snap.issues), snap.issues


def test_postini_settings_are_checked_when_made(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text(POSTINI_USERS)
    with pytest.raises(ValueError, match=r"user_columns\.frist_name"):
        muster.PostiniCsv(users, user_columns={"frist_name": "First"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"alias_columns\.adress"):
        muster.PostiniCsv(
            users, aliases=users, alias_columns={"adress": "x"}  # type: ignore[dict-item]
        )
    with pytest.raises(ValueError, match="alias_columns"):
        muster.PostiniCsv(users, alias_columns={"address": "alias"})
    with pytest.raises(ValueError, match="encoding"):
        muster.PostiniCsv(users, encoding="latin-9")  # type: ignore[arg-type]


def test_mapped_csv_reads_the_columns_it_names(tmp_path: Path) -> None:
    path = tmp_path / "hr-export.csv"
    path.write_text(
        "Work Email;Given;Family;Other Addresses\n"
        "ann@example.com;Ann;Lee;a.lee@example.com|al@example.com\n"
        "not-an-address;X;Y;\n"
    )
    snap = muster.MappedCsv(
        path,
        primary="Work Email",
        columns={"first_name": "Given", "last_name": "Family", "aliases": "Other Addresses"},
        separators={"aliases": "|"},
        delimiter="semicolon",
    ).read()
    assert len(snap.entries) == 1
    ann = snap.entries[0]
    assert (ann["first_name"], ann["last_name"]) == ("Ann", "Lee")
    assert ann["aliases"] == ["a.lee@example.com", "al@example.com"]
    assert "first_name" in snap.provided and "mobile" not in snap.provided
    assert len(snap.issues) == 1 and snap.issues[0]["location"].endswith(":3")


def test_mapped_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Email\nann@example.com\n")
    with pytest.raises(ValueError, match="columns"):
        muster.MappedCsv(path, primary="Email", columns={"frist_name": "F"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="delimiter"):
        muster.MappedCsv(path, primary="Email", delimiter="pipe")  # type: ignore[arg-type]
    with pytest.raises(muster.SourceError, match="Given"):
        # A required column that is not there: the file cannot be read completely.
        muster.MappedCsv(path, primary="Email", columns={"first_name": "Given"}).read()
    snap = muster.MappedCsv(path, primary="Email", optional_columns={"first_name": "Given"}).read()
    assert "first_name" not in snap.provided, "a missing optional column provides nothing"
