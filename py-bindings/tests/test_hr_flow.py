"""The seed-002 HR script, end to end against the emulator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import muster
from muster.testing import Emulator

from conftest import ORG


def test_seed_002_flow_end_to_end(
    emu: Emulator, gw: muster.Gateway, hr: muster.HrRecords, tmp_path: Path
) -> None:
    users = gw.list_users()
    assert isinstance(users, list)
    assert all(isinstance(u, dict) for u in users)
    json.dumps(users)  # plain data
    by_email = {u["primary_email"]: u for u in users}
    assert by_email["ann@example.com"]["user_type"] == "end_user"
    assert users.snapshot.registered_domains == ["example.com", "example.org"]

    plan = muster.functional_accounts(users, hr, override_threshold=True)
    assert sorted(c["email"] for c in plan.changes) == ["bob@example.com", "carol@example.com"]
    summary = plan.summary()
    assert isinstance(summary, dict)
    assert summary["billable_before"] - summary["billable_after"] == 2
    text = str(plan)
    assert "bob@example.com" in text and "terminated in hr-db" in text
    assert "absent from hr-db" in text
    plan.to_csv(tmp_path / "preview.csv")
    with open(tmp_path / "preview.csv", newline="") as f:
        # The first row names the plan the preview is of (for approvals).
        assert next(csv.reader(f)) == ["plan", plan.fingerprint]
        rows = list(csv.DictReader(f))
    assert {r["email"] for r in rows} >= {"bob@example.com", "carol@example.com"}
    assert all(r["exclude"] == "" for r in rows), "an empty column for a reviewer to mark"
    saved = json.loads(plan.to_json())
    assert saved["fingerprint"] == plan.fingerprint

    emu.clear_observations()
    dry = gw.apply(plan, dry_run=True)
    assert dry.dry_run
    assert dry.counts["dry_run"] == 2
    assert emu.writes() == [], "a dry run writes nothing"
    assert all(c["outcome"] == "dry_run" and c["requests"] for c in dry.changes)

    journal = tmp_path / "apply.jsonl"
    report = gw.apply(plan, journal=journal)
    assert report.is_complete and not report.dry_run
    assert report.raise_for_status() is None
    assert report.counts["applied"] == 2
    assert {c["email"]: c["outcome"] for c in report.changes} == {
        "bob@example.com": "applied",
        "carol@example.com": "applied",
    }
    assert journal.read_text().strip(), "the journal records the outcomes"
    json.dumps(report.to_dict())

    bob = emu.user(ORG, "bob@example.com")
    assert bob["type"] == "functional_account"
    # Read-merge-write: what muster does not own survives the update.
    assert bob["alias_emails"] == ["bob@example.org"]
    assert bob["firstname"] == "Bob"
    assert bob["white_list_senders"] == ["partner.example"]
    assert emu.user(ORG, "ann@example.com")["type"] == "end_user"
    assert emu.user(ORG, "dave@example.com")["type"] == "end_user", "leave is still employed"

    again = muster.functional_accounts(
        gw.list_users(), hr, override_threshold=True, state=report.state_json
    )
    assert again.is_empty, str(again)
    assert len(again) == 0


def test_the_threshold_stops_a_plan_without_override(
    emu: Emulator, gw: muster.Gateway, hr: muster.HrRecords
) -> None:
    plan = muster.functional_accounts(gw.list_users(), hr)
    assert plan.requires_override
    assert plan.threshold["destructive"] == 2
    emu.clear_observations()
    with pytest.raises(muster.ApplyError, match="override") as caught:
        gw.apply(plan)
    assert not isinstance(caught.value, muster.StaleError)
    assert emu.writes() == []
    # A looser threshold, decided by the script, lets it through.
    loose = muster.functional_accounts(gw.list_users(), hr, threshold=(10, 100))
    assert not loose.requires_override


def test_allowlist_and_flag_action(gw: muster.Gateway, hr: muster.HrRecords) -> None:
    users = gw.list_users()
    plan = muster.functional_accounts(
        users, hr, allow=["Carol@Example.com"], override_threshold=True
    )
    assert [c["email"] for c in plan.changes] == ["bob@example.com"]
    flagged = muster.functional_accounts(users, hr, action="flag")
    assert {c["kind"] for c in flagged.changes} == {"flag"}
    with pytest.raises(ValueError, match="functional_account"):
        muster.functional_accounts(users, hr, action="delete")


def test_a_plain_list_of_dicts_plans_too(gw: muster.Gateway, hr: muster.HrRecords) -> None:
    users = gw.list_users()
    plain = [dict(u) for u in users]
    offline = muster.functional_accounts(plain, hr, override_threshold=True)
    assert offline.org == ORG
    assert offline.stack == "offline"
    assert sorted(c["email"] for c in offline.changes) == [
        "bob@example.com",
        "carol@example.com",
    ]
    with pytest.raises(ValueError, match=r"users\[0\]"):
        muster.functional_accounts([{"primary_email": "not an address"}], hr)
    with pytest.raises(TypeError, match="list"):
        muster.functional_accounts("ann@example.com", hr)  # type: ignore[arg-type]


def test_a_saved_plan_applies_later(
    emu: Emulator, gw: muster.Gateway, hr: muster.HrRecords, tmp_path: Path
) -> None:
    plan = muster.functional_accounts(gw.list_users(), hr, override_threshold=True)
    plan.to_json(tmp_path / "plan.json")
    loaded = muster.Plan.from_json(
        (tmp_path / "plan.json").read_text(), state=plan.state_json
    )
    assert loaded.fingerprint == plan.fingerprint
    assert str(loaded) == str(plan)
    report = gw.apply(loaded)
    assert report.counts["applied"] == 2
    assert emu.user(ORG, "carol@example.com")["type"] == "functional_account"


def test_an_empty_or_partial_hr_list_acts_on_nobody(gw: muster.Gateway) -> None:
    # An HR export that came back empty must not make everyone "absent from HR".
    empty = muster.HrRecords.from_rows([], source="hr-db")
    plan = muster.functional_accounts(gw.list_users(), empty, override_threshold=True)
    assert plan.is_empty
    assert any("hr-db" in g for g in plan.guards), plan.guards


def test_listed_accounts_have_exactly_the_account_shape(gw: muster.Gateway) -> None:
    """`list_users()` builds its dicts field by field: they must stay the
    stubs' `Account` (every key, nothing else) with the gateway's values."""
    from muster.types import Account

    users = gw.list_users()
    for account in users:
        assert set(account) == set(Account.__annotations__), account
    bob = next(u for u in users if u["primary_email"] == "bob@example.com")
    assert bob == {
        "primary_email": "bob@example.com",
        "first_name": "Bob",
        "last_name": "Ray",
        "aliases": ["bob@example.org"],
        "user_type": "end_user",
        "active": True,
        "billable": bob["billable"],
        "read_only": False,
        "mobile": None,
        "phone": None,
        "company": None,
        "department": None,
        "notes": None,
        "groups": [],
        "allow_senders": ["partner.example"],
        "block_senders": [],
    }
