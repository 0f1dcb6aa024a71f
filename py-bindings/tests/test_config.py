"""`muster.Config`: one config file, planned and applied as the CLI does,
against the emulator; `show` and approvals on the plans it makes."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

import muster
from muster.testing import Emulator

from conftest import LOGIN, ORG, PASSWORD

PASSWORD_ENV = "MUSTER_PY_TEST_PASSWORD"

STAFF = """First Name,Last Name,Primary Email,Mobile,Alias 1
Ann,Lee,ann@example.com,,
Bob,Ray,bob@example.com,,bob@example.org
Carol,,carol@example.com,,
Dave,,dave@example.com,,
Eve,Stone,eve@example.com,,
"""

HR = """email,status
ann@example.com,Active
bob@example.com,Terminated
carol@example.com,Active
dave@example.com,Active
eve@example.com,Active
"""


def write_config(folder: Path, emu: Emulator, extra: str = "", files: bool = True) -> Path:
    (folder / "data").mkdir()
    (folder / "data" / "staff.csv").write_text(STAFF)
    (folder / "data" / "hr.csv").write_text(HR)
    files_block = '[files]\nstate = "state/org.json"\njournals = "journals/"\n' if files else ""
    (folder / "state").mkdir()
    text = f"""[gateway]
stack = "{emu.url}"
org = "{ORG}"
login = "{LOGIN}"
password_env = "{PASSWORD_ENV}"
requests_per_minute = 100000

[[source]]
name = "staff"
role = "authoritative"
kind = "csv"
path = "data/staff.csv"

[hr]
path = "data/hr.csv"
action = "functional_account"

[policy]
managed_domains = ["example.com", "example.org"]
new_user_role = "silent_user"
threshold = {{ count = 100, percent = 100 }}

{files_block}{extra}"""
    path = folder / "muster.toml"
    path.write_text(text)
    return path


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield


def by_email(report: muster.ApplyReport) -> dict[str, str]:
    return {c["email"]: c["outcome"] for c in report.changes}


def test_config_plans_and_applies_like_the_cli(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    assert config.org == ORG and config.sources == ["staff"]
    assert config.state_file == tmp_path / "state" / "org.json"
    assert config.journals == tmp_path / "journals"
    (tmp_path / "bare").mkdir()
    bare = muster.Config.load(write_config(tmp_path / "bare", emu, files=False))
    assert bare.journals is None and bare.state_file is None
    assert "requests_per_minute = 100000" in config.to_toml()

    emu.clear_observations()
    plan = config.plan()
    assert emu.writes() == [], "planning writes nothing"
    changes = {c["email"]: c["kind"] for c in plan.changes}
    # Eve is new; Bob is terminated in HR: a functional account.
    assert changes["eve@example.com"] == "create"
    assert changes["bob@example.com"] == "update"
    assert plan.org == ORG

    report = config.apply(plan)
    report.raise_for_status()
    assert set(by_email(report).values()) == {"applied"}
    assert emu.user(ORG, "eve@example.com") is not None
    bob = emu.user(ORG, "bob@example.com")
    assert bob is not None and bob["type"] == "functional_account"

    state = tmp_path / "state" / "org.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600, "the state holds who owns what"
    assert json.loads(state.read_text()) == json.loads(report.state_json)
    journal = tmp_path / "journals" / f"{plan.fingerprint}.journal"
    assert journal.exists(), "journalled in files.journals, named after the plan"

    again = config.plan()
    assert again.is_empty, str(again)


def test_a_plans_outcome_is_the_clis_exit_code_in_words(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    path = write_config(tmp_path, emu)
    config = muster.Config.load(path)
    plan = config.plan()
    assert (plan.outcome, plan.exit_code) == ("would change", 2)
    config.apply(plan).raise_for_status()
    again = config.plan()
    assert (again.outcome, again.exit_code) == ("nothing to do", 0)
    # The authoritative source emptied: deletions held, 5.
    (tmp_path / "data" / "staff.csv").write_text("First Name,Last Name,Primary Email\n")
    empty = config.plan()
    assert (empty.outcome, empty.exit_code) == ("source unsafe", 5)
    # A threshold of one destructive change, and HR terminating two more.
    (tmp_path / "data" / "staff.csv").write_text(STAFF)
    terminated = HR.replace("ann@example.com,Active", "ann@example.com,Terminated")
    terminated = terminated.replace("carol@example.com,Active", "carol@example.com,Terminated")
    (tmp_path / "data" / "hr.csv").write_text(terminated)
    path.write_text(path.read_text().replace("count = 100, percent = 100", "count = 1, percent = 1"))
    over = muster.Config.load(path).plan()
    assert over.requires_override
    assert (over.outcome, over.exit_code) == ("threshold exceeded", 4)


def test_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "muster.toml"
    path.write_text('[gateway]\norg = "example.com"\n\n[policy]\ndelete_dealy = "7d"\n')
    with pytest.raises(muster.ConfigError) as err:
        muster.Config.load(path)
    assert str(err.value).startswith(f"{path}:5: policy.delete_dealy: unknown field")
    assert isinstance(err.value, muster.MusterError)

    path.write_text('[gateway]\norg = "example.com"\npassword = "hunter2-secret"\n')
    with pytest.raises(muster.ConfigError) as err:
        muster.Config.load(path)
    assert "hunter2-secret" not in str(err.value), "a secret in the file is never echoed"

    with pytest.raises(muster.ConfigError, match="muster.toml"):
        muster.Config.load(tmp_path / "missing" / "muster.toml")


def test_a_missing_password_is_a_config_error_naming_the_variable(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = muster.Config.load(write_config(tmp_path, emu))
    emu.clear_observations()
    with pytest.raises(muster.ConfigError, match=PASSWORD_ENV):
        config.plan()
    assert emu.requests() == [], "refused before anything was sent"


def test_apply_needs_a_state_file_unless_dry_run(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu, files=False))
    plan = config.plan()
    emu.clear_observations()
    with pytest.raises(muster.ConfigError, match="state"):
        config.apply(plan)
    assert emu.requests() == []
    dry = config.apply(plan, dry_run=True)
    assert dry.dry_run and emu.writes() == []
    report = config.apply(plan, state=tmp_path / "elsewhere.json")
    assert report.is_complete and (tmp_path / "elsewhere.json").exists()


def test_a_second_run_of_the_organisation_is_refused_by_its_lease(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    lock = tmp_path / "state" / "org.json.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(muster.LeaseError, match="org.json.lock"):
            config.plan()
        fcntl.flock(held, fcntl.LOCK_UN)
    config.plan()  # released: the next run goes ahead


def test_source_issues_are_logged_and_text_from_outside_is_sanitized(
    emu: Emulator, password: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, emu)
    with open(tmp_path / "data" / "staff.csv", "a") as f:
        f.write("Mal,,not-an-address\u202e\x1b[31m,,\n")
    config = muster.Config.load(path)
    with caplog.at_level(logging.WARNING, logger="muster.config"):
        plan = config.plan()
    messages = [r.getMessage() for r in caplog.records if r.name == "muster.config"]
    assert any("staff.csv:7" in m for m in messages), messages
    assert not any("\u202e" in m or "\x1b" in m for m in messages), "controls and bidi escaped"
    assert not plan.is_empty


def test_show_renders_a_plan_as_the_cli_does(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    plan = config.plan()
    assert plan.show() == str(plan)
    assert plan.fingerprint in plan.show("text")
    saved = tmp_path / "plan.json"
    plan.to_json(saved)
    assert muster.show(saved, "json") == saved.read_text(), "the saved plan, byte for byte"
    assert muster.show(saved) == plan.show("text")
    rows = list(csv.reader(io.StringIO(muster.show(saved, format="csv"))))
    assert rows[0] == ["plan", plan.fingerprint]
    assert "exclude" in rows[1]
    with pytest.raises(ValueError, match="format"):
        plan.show("html")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        muster.show(saved, "yaml")  # type: ignore[arg-type]
    (tmp_path / "not-a-plan.json").write_text("{}")
    with pytest.raises(muster.PlanError):
        muster.show(tmp_path / "not-a-plan.json")


def test_exclude_and_only_apply_part_of_the_plan(
    emu: Emulator, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    plan = config.plan()
    ids = {c["email"]: c["id"] for c in plan.changes}

    preview = plan.approve(exclude=["eve@example.com"])
    assert ids["eve@example.com"] in preview["excluded"]
    assert ids["bob@example.com"] in preview["included"]

    with pytest.raises(ValueError, match=r"exclude\[0\]"):
        config.apply(plan, exclude=["#twelve"])
    with pytest.raises(muster.PlanError, match="nobody@example.com"):
        config.apply(plan, exclude=["nobody@example.com"])
    assert emu.user(ORG, "eve@example.com") is None, "refused before anything was sent"

    report = config.apply(plan, exclude=["eve@example.com"])
    outcomes = by_email(report)
    assert outcomes["eve@example.com"] == "excluded"
    assert outcomes["bob@example.com"] == "applied"
    assert emu.user(ORG, "eve@example.com") is None

    again = config.plan()
    assert [c["email"] for c in again.changes] == ["eve@example.com"]
    report = config.apply(again, only=[f"#{again.changes[0]['id']}"])
    assert by_email(report) == {"eve@example.com": "applied"}


def test_an_approval_file_leaves_out_what_it_lists(
    emu: Emulator, gw: muster.Gateway, password: None, tmp_path: Path
) -> None:
    config = muster.Config.load(write_config(tmp_path, emu))
    plan = config.plan()
    approval = tmp_path / "approval.txt"
    approval.write_text("plan: 0000000000000000\nbob@example.com\n")
    with pytest.raises(muster.PlanError, match="not this one"):
        config.apply(plan, approval=approval)

    approval.write_text(f"plan: {plan.fingerprint}\n# keep Bob a user for now\nbob@example.com\n")
    # Applying part of a plan needs a journal (the executor's rule).
    report = gw.apply(plan, approval=approval, journal=tmp_path / "part.journal")
    assert by_email(report)["bob@example.com"] == "excluded"
    assert by_email(report)["eve@example.com"] == "applied"

    # The reviewed CSV preview, marked in a spreadsheet, works too.
    again = config.plan()
    preview = list(csv.reader(io.StringIO(again.show("csv"))))
    header = preview[1]
    for row in preview[2:]:
        if row[header.index("email")] == "bob@example.com":
            row[header.index("exclude")] = "x"
    reviewed = tmp_path / "reviewed.csv"
    with open(reviewed, "w", newline="") as f:
        csv.writer(f).writerows(preview)
    report = config.apply(again, approval=reviewed)
    outcomes = by_email(report)
    assert outcomes.pop("bob@example.com") == "excluded"
    assert "excluded" not in outcomes.values(), "only the marked row is left out"


def test_a_config_with_a_plan_key_signs_plans_and_wants_signed_approvals(
    emu: Emulator, password: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSTER_PY_TEST_PLAN_KEY", "k" * 40)
    path = write_config(tmp_path, emu, extra='\n[signing]\nkey_env = "MUSTER_PY_TEST_PLAN_KEY"\n')
    config = muster.Config.load(path)
    plan = config.plan()
    assert json.loads(plan.to_json()).get("signature"), "signed with the config's key"
    approval = tmp_path / "approval.txt"
    approval.write_text(f"plan: {plan.fingerprint}\nbob@example.com\n")
    with pytest.raises(muster.PlanError, match="not signed"):
        config.apply(plan, approval=approval)
    assert os.environ["MUSTER_PY_TEST_PLAN_KEY"] not in repr(config)
