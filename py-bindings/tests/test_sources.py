"""HR records and Standard CSV: records and issues as plain data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import muster
from muster.testing import Emulator

from conftest import ORG


def test_hr_from_rows_reports_a_bad_row_as_an_issue() -> None:
    hr = muster.HrRecords.from_rows(
        [
            {"email": "ann@example.com", "status": "Active", "badge": 1234, "manager": None},
            {"email": "not-an-address", "status": "Active"},
            {"email": "bob@example.com", "status": "Retired"},
            {"email": "carol@example.com", "status": ""},
        ],
        statuses={"Retired": "terminated"},
        source="workday",
    )
    assert hr.source == "workday"
    # Carol's blank status is an issue and she is kept, held: the HR rule
    # never acts on a status it cannot read (she is not "absent from HR").
    assert len(hr) == 3
    assert hr.complete
    ann, bob, carol = hr.records
    assert carol["status"] == ""
    assert ann == {
        "email": "ann@example.com",
        "status": "active",
        "attributes": {"badge": "1234", "manager": ""},
        "location": "record #0",
    }
    assert bob["status"] == "terminated"
    bad, no_status = hr.issues
    assert bad["location"] == "record #1"
    assert bad["field"] == "email"
    assert bad["value"] == "not-an-address"
    assert "record #1" in bad["message"]
    assert no_status["location"] == "record #3"
    assert no_status["field"] == "status"
    assert "this person is held" in no_status["message"]
    json.dumps(hr.issues)


def test_hr_from_rows_with_renamed_columns() -> None:
    hr = muster.HrRecords.from_rows(
        [{"Work Email": "Ann@Example.com", "Employment": "T"}],
        email="Work Email",
        status="Employment",
    )
    assert hr.records[0]["status"] == "terminated"
    assert hr.issues == []
    with pytest.raises(TypeError, match=r"rows\[0\]"):
        muster.HrRecords.from_rows(["ann@example.com"])  # type: ignore[list-item]


def test_hr_from_csv_reports_a_bad_row_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(
        "\ufeffEmail;Status;Location\r\n"
        "ann@example.com;Active;Leeds\r\n"
        "bob@@example.com;Terminated;York\r\n"
        "carol@example.com;Terminated;\r\n",
        encoding="utf-8",
    )
    hr = muster.HrRecords.from_csv(path)
    assert [r["email"] for r in hr.records] == ["ann@example.com", "carol@example.com"]
    assert hr.records[0]["attributes"] == {"Location": "Leeds"}
    [issue] = hr.issues
    assert issue["location"] == f"{path}:3"
    assert issue["value"] == "bob@@example.com"


def test_hr_source_errors(tmp_path: Path) -> None:
    with pytest.raises(muster.SourceError, match="cannot read") as caught:
        muster.HrRecords.from_csv(tmp_path / "missing.csv")
    assert isinstance(caught.value, muster.MusterError)
    path = tmp_path / "hr.csv"
    path.write_text("mail,state\nann@example.com,active\n")
    with pytest.raises(muster.SourceError, match="email"):
        muster.HrRecords.from_csv(path)
    assert len(muster.HrRecords.from_csv(path, email="mail", status="state")) == 1


def test_standard_csv_read_gives_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "First Name,Last Name,Email,Mobile,Alias 1\n"
        "Ann,Lee,ann@example.com,,\n"
        "Bob,Ray,not-an-address,,\n"
        "Erin,Moss,erin@example.com,,erin@example.org\n"
    )
    snapshot = muster.StandardCsv(path).read()
    assert len(snapshot) == 2
    assert snapshot.complete
    entries = snapshot.entries
    json.dumps(list(entries))  # each entry is plain data (the view itself is a Sequence)
    assert [e["primary_email"] for e in entries] == ["ann@example.com", "erin@example.com"]
    assert "first_name" in snapshot.provided
    [issue] = snapshot.issues
    assert issue["location"] == f"{path}:3"
    with pytest.raises(muster.SourceError):
        muster.StandardCsv(tmp_path / "nope.csv").read()


def test_plan_from_a_csv_snapshot_applies_and_converges(
    emu: Emulator, gw: muster.Gateway, tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "First Name,Last Name,Email,Mobile,Alias 1\n"
        "Ann,Lee-Smith,ann@example.com,,\n"
        "Erin,Moss,erin@example.com,,erin@example.org\n"
    )
    directory = muster.StandardCsv(path, name="users.csv").read()
    plan = muster.plan(
        gw.list_users(),
        directory,
        managed_domains=["example.com", "example.org"],
        welcome_letters=False,
    )
    kinds = {c["email"]: c["kind"] for c in plan.changes}
    assert kinds["erin@example.com"] == "create"
    assert kinds["ann@example.com"] == "update"
    report = gw.apply(plan)
    report.raise_for_status()
    assert emu.user(ORG, "erin@example.com")["alias_emails"] == ["erin@example.org"]
    assert emu.user(ORG, "ann@example.com")["surname"] == "Lee-Smith"
    assert emu.welcome_letters("erin@example.com") == 0
    again = muster.plan(
        gw.list_users(),
        muster.StandardCsv(path, name="users.csv").read(),
        managed_domains=["example.com", "example.org"],
        welcome_letters=False,
        state=report.state_json,
    )
    assert again.is_empty, str(again)
