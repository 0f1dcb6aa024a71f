"""Operating a sync from Python, with the CLI's meaning and refusals:
conflicts (list, export, ignore/unignore, delete_now, deactivate), exempt /
unexempt, and restore from a journal's before-images — against the
emulator, through `muster.Config`."""

from __future__ import annotations

import copy
import csv
import io
import json
import stat
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest

import muster
from muster import types
from muster.testing import Emulator

from conftest import LOGIN, ORG, SEED
from test_config import STAFF, by_email, password, write_config  # noqa: F401 (fixture)

EVE = "eve@example.com"
#: On the gateway, absent from the directory, and never made by muster.
SAM = "sam@example.com"


@pytest.fixture
def seed() -> Dict[str, Any]:
    s = copy.deepcopy(SEED)
    s["orgs"][0]["users"].append({"primary_email": SAM, "firstname": "Sam"})
    return s


def without_eve(folder: Path) -> None:
    staff = folder / "data" / "staff.csv"
    staff.write_text("".join(l for l in STAFF.splitlines(True) if EVE not in l))


def eve_flagged(emu: Emulator, folder: Path) -> muster.Config:
    """Eve created by muster, then gone from the directory: flagged, a conflict."""
    config = muster.Config.load(write_config(folder, emu))
    config.apply(config.plan()).raise_for_status()
    without_eve(folder)
    flag = config.plan()
    assert {c["email"]: c["kind"] for c in flag.changes}.get(EVE) == "flag", str(flag)
    config.apply(flag).raise_for_status()
    return config


def state_of(folder: Path) -> Dict[str, Any]:
    loaded: Dict[str, Any] = json.loads((folder / "state" / "org.json").read_text())
    return loaded


def test_conflicts_lists_a_fresh_plans_conflicts_or_a_given_plans(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    emu.clear_observations()
    listed = {c["email"]: c for c in config.conflicts()}
    assert emu.writes() == [], "listing writes nothing"
    assert listed[EVE]["kind"] == "absent" and "flagged_since" in listed[EVE]
    assert "delete_now" in listed[EVE]["actions"]
    assert listed[SAM]["kind"] == "unknown_origin", "muster does not own Sam"

    plan = config.plan()
    saved = tmp_path / "plan.json"
    plan.to_json(saved)
    assert config.conflicts(plan=plan) == plan.conflicts
    assert config.conflicts(plan=saved) == plan.conflicts
    assert config.conflicts(plan=str(saved)) == plan.conflicts
    with pytest.raises(TypeError, match="plan must be a Plan or the path of a saved plan, not int"):
        config.conflicts(plan=3)  # type: ignore[arg-type]

    text = plan.show_conflicts()
    assert text.startswith(f"User conflicts of plan {plan.fingerprint}") and EVE in text
    assert json.loads(plan.show_conflicts("json")) == plan.conflicts
    with pytest.raises(ValueError, match="format"):
        plan.show_conflicts("yaml")  # type: ignore[arg-type]

    out = tmp_path / "conflicts.csv"
    assert config.export_conflicts(out, plan=saved) == len(plan.conflicts)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, "the list holds directory data"
    assert out.read_text() == plan.show_conflicts("csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["email"] for r in rows} == set(listed)


def test_ignore_keeps_a_conflict_until_unignore(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    config.ignore([EVE])
    assert EVE in state_of(tmp_path)["ignored"]
    assert {c["email"]: c["ignored"] for c in config.conflicts()}[EVE] is True
    assert config.unignore([EVE, "ann@example.com"]) == [EVE], "Ann was not ignored"
    assert config.unignore([EVE]) == []
    assert {c["email"]: c["ignored"] for c in config.conflicts()}[EVE] is False
    with pytest.raises(ValueError, match="addresses: \"not-an-address\""):
        config.ignore(["not-an-address"])


def test_delete_now_of_a_flagged_account_is_a_plan_that_apply_carries_out(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    emu.clear_observations()
    plan = config.delete_now([EVE])
    assert emu.writes() == [], "nothing is sent before apply"
    assert [(c["email"], c["kind"]) for c in plan.changes] == [(EVE, "delete")]
    assert "deleted now by an administrator" in str(plan)
    report = config.apply(plan)
    report.raise_for_status()
    assert by_email(report) == {EVE: "applied"}
    assert emu.user(ORG, EVE) is None
    assert emu.user(ORG, SAM) is not None and emu.user(ORG, "ann@example.com") is not None
    assert EVE not in json.dumps(state_of(tmp_path))


def test_delete_now_refuses_an_address_back_in_the_directory_a_protected_and_an_unowned_one(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    (tmp_path / "data" / "staff.csv").write_text(STAFF)  # Eve is back
    writes = emu.writes()
    with pytest.raises(muster.PlanError, match=f"cannot delete now {EVE}: a source lists it"):
        config.delete_now([EVE])
    with pytest.raises(muster.PlanError, match="it is protected"):
        config.delete_now([LOGIN])
    with pytest.raises(muster.PlanError, match="muster does not own it") as unowned:
        config.delete_now([SAM])
    assert "include" in str(unowned.value)
    assert emu.writes() == writes, "a refusal sends nothing"
    plan = config.delete_now([SAM], include_unowned=True)
    assert [(c["email"], c["kind"]) for c in plan.changes] == [(SAM, "delete")]
    with pytest.raises(muster.PlanError, match="it is protected"):
        config.delete_now([LOGIN], include_unowned=True)


def test_deactivate_plans_a_deactivation_that_apply_carries_out(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    plan = config.deactivate([EVE])
    assert "deactivated by an administrator" in str(plan)
    config.apply(plan).raise_for_status()
    eve = emu.user(ORG, EVE)
    assert eve is not None and eve["is_active"] is False
    saved = state_of(tmp_path)
    assert saved["accounts"][EVE]["deactivated_by_muster"] is True
    with pytest.raises(muster.PlanError):
        config.deactivate([EVE])


def test_an_exempt_account_is_skipped_with_its_reason_until_unexempted(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    before = config.plan()
    assert "bob@example.com" in {c["email"] for c in before.changes}, "Bob's HR change"
    config.exempt("bob@example.com", reason="contractor\x1b[31m, by hand", now="2026-11-02T09:00:00Z")
    text = (tmp_path / "muster.toml").read_text()
    assert "bob" not in text, "the exemption is in the state, not the config"
    assert "bob@example.com" in state_of(tmp_path)["exempt"]

    plan = config.plan()
    assert "bob@example.com" not in {c["email"] for c in plan.changes}
    skipped = [s for s in plan.skipped if s["email"] == "bob@example.com"]
    assert [s["code"] for s in skipped] == ["exempt"], plan.skipped
    assert "contractor" in skipped[0]["reason"] and "2026-11-02" in skipped[0]["reason"]
    assert "\x1b" not in str(plan), "outside text is sanitized"

    assert config.unexempt("bob@example.com") is True
    assert config.unexempt("bob@example.com") is False
    assert "bob@example.com" in {c["email"] for c in config.plan().changes}


def test_state_edits_need_a_state_file_and_take_the_lease(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu, files=False))
    with pytest.raises(muster.ConfigError, match="state= is required"):
        config.exempt("bob@example.com")
    state = tmp_path / "state" / "elsewhere.json"
    config.exempt("bob@example.com", state=state)
    assert "bob@example.com" in json.loads(state.read_text())["exempt"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    import fcntl

    with open(f"{state}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(muster.LeaseError):
            config.unexempt("bob@example.com", state=state)


def test_restore_plans_back_an_account_deleted_by_mistake(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    eve = emu.user(ORG, EVE)
    assert eve is not None
    journal = tmp_path / "delete.journal"
    config.apply(config.delete_now([EVE]), journal=journal).raise_for_status()
    assert emu.user(ORG, EVE) is None
    letters = emu.welcome_letters(EVE)

    with pytest.raises(ValueError, match="addresses: no before-image of ann@example.com"):
        config.restore(journal, ["ann@example.com"])
    with pytest.raises(muster.PlanError, match="no before-images next to"):
        config.restore(tmp_path / "nothing.journal")

    plan = config.restore(journal, [EVE])
    assert [(c["email"], c["kind"]) for c in plan.changes] == [(EVE, "create")]
    assert muster.Plan.from_json(plan.to_json()).fingerprint == plan.fingerprint
    config.apply(plan).raise_for_status()
    back = emu.user(ORG, EVE)
    assert back is not None
    # Every field is back, those muster does not own too; only the record's
    # own keys (its id, its timestamps) are the new record's.
    changed = {k for k in set(eve) | set(back) if eve.get(k) != back.get(k)}
    assert changed <= {"uid", "created", "updated", "created_at", "updated_at"}, (
        changed, eve, back,
    )
    assert emu.welcome_letters(EVE) == letters, "no welcome letter on a restore"


def test_approve_writes_an_approval_file_that_apply_honours_signed_with_the_key(
    emu: Emulator, password: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSTER_PY_TEST_PLAN_KEY", "k" * 40)
    path = write_config(tmp_path, emu, extra='\n[signing]\nkey_env = "MUSTER_PY_TEST_PLAN_KEY"\n')
    config = muster.Config.load(path)
    plan = config.plan()
    saved = tmp_path / "plan.json"
    plan.to_json(saved)
    out = tmp_path / "approval.txt"

    # Unsigned (no config given): a config with a key refuses it, as the CLI does.
    approved = muster.approve(saved, out, exclude=["bob@example.com"])
    bob = next(c["id"] for c in plan.changes if c["email"] == "bob@example.com")
    assert approved["excluded"] == [bob]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith(f"plan: {plan.fingerprint}")
    with pytest.raises(muster.PlanError, match="not signed"):
        config.apply(plan, approval=out)

    assert muster.approve(plan, out, exclude=["bob@example.com"], config=config) == approved
    assert "k" * 40 not in out.read_text(), "the key signs; it is never written"
    report = config.apply(plan, approval=out)
    outcomes = by_email(report)
    assert outcomes.pop("bob@example.com") == "excluded"
    assert set(outcomes.values()) == {"applied"}

    with pytest.raises(muster.PlanError):
        muster.approve(plan, out, only=["nobody@example.com"])


def keys_fit(record: Mapping[str, Any], shape: Any) -> None:
    """`record` has every required key of the TypedDict `shape`, and no key it does not name."""
    required, optional = set(shape.__required_keys__), set(shape.__optional_keys__)
    assert required <= set(record), (shape.__name__, required - set(record))
    assert set(record) <= required | optional, (shape.__name__, set(record) - required - optional)


def test_records_have_the_keys_their_typeddicts_say(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = eve_flagged(emu, tmp_path)
    config.exempt("ann@example.com", reason="on leave")
    plan = config.plan()
    keys_fit(plan.summary(), types.Summary)
    keys_fit(plan.threshold, types.Threshold)
    assert plan.conflicts and plan.skipped
    for c in plan.conflicts:
        keys_fit(c, types.Conflict)
    for s in plan.skipped:
        keys_fit(s, types.Skipped)
    events: List[Any] = []
    report = config.apply(config.delete_now([EVE]), progress=events.append)
    keys_fit(report.counts, types.Counts)
    for e in events:
        keys_fit(e, types.ProgressStarted if e["event"] == "started" else types.ProgressFinished)

    now = "2026-11-20T12:00:00Z"
    ledger = muster.DiscoveryLedger()
    rows = [{"address": "erin@example.com", "direction": "inbound", "messages": 9,
             "last_seen": "2026-11-19T09:00:00Z", "display_name": "Erin Moss"},
            {"address": "bad", "direction": "inbound", "messages": 1, "last_seen": "2026-11-19"}]
    [issue] = ledger.observe(rows, now=now)
    keys_fit(issue, types.Issue)
    [erin] = ledger.candidates(["example.com"], now=now)
    keys_fit(erin, types.Candidate)
    keys_fit(erin["becomes"], types.Becomes)
    keys_fit(erin["reason"], types.CandidateReason)
    assert erin["seen"] is not None
    keys_fit(erin["seen"], types.Seen)
    keys_fit(erin["seen"]["total"], types.Tally)
    keys_fit(erin["seen"]["display_name"], types.SeenName)
