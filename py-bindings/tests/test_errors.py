"""The exception hierarchy and what messages say (and never say)."""

from __future__ import annotations

import json
import urllib.request

import pytest

import muster
from muster.testing import Emulator

from conftest import LOGIN, ORG, PASSWORD


def test_hierarchy() -> None:
    for cls in (
        muster.GatewayError,
        muster.SourceError,
        muster.PlanError,
        muster.ApplyError,
        muster.EmulatorError,
    ):
        assert issubclass(cls, muster.MusterError)
    assert issubclass(muster.StaleError, muster.ApplyError)
    assert issubclass(muster.MusterError, Exception)
    assert muster.GatewayError.__module__ == "muster"


def test_a_bad_password_is_a_gateway_error_without_the_password(emu: Emulator) -> None:
    wrong = "hunter2-wrong-password"
    gw = muster.Gateway.essentials(emu.url, org=ORG, user=LOGIN, password=wrong)
    assert wrong not in repr(gw)
    assert LOGIN in repr(gw)
    with pytest.raises(muster.GatewayError) as caught:
        gw.list_users()
    err = caught.value
    assert isinstance(err, muster.MusterError)
    assert err.status == 401
    assert err.retryable is False
    assert "authentication failed" in str(err)
    for text in (str(err), repr(err), repr(err.args)):
        assert wrong not in text
        assert PASSWORD not in text


def test_an_unreachable_gateway_is_a_gateway_error() -> None:
    gw = muster.Gateway.essentials(
        "http://127.0.0.1:9/api/v1",
        org=ORG,
        user=LOGIN,
        password=PASSWORD,
        max_attempts=1,
        timeout=5,
    )
    with pytest.raises(muster.GatewayError) as caught:
        gw.list_users()
    assert PASSWORD not in str(caught.value)


def test_a_bad_configuration_is_a_value_error_when_made() -> None:
    with pytest.raises(ValueError, match="^stack_or_url: plain http"):
        muster.Gateway.essentials(
            "http://gateway.example.com", org=ORG, user=LOGIN, password=PASSWORD
        )


def test_planner_refusals_are_plan_errors(gw: muster.Gateway, hr: muster.HrRecords) -> None:
    users = gw.list_users()
    with pytest.raises(muster.PlanError, match="not registered"):
        muster.plan(users, hr=hr, managed_domains=["exmaple.com"])
    with pytest.raises(muster.PlanError):
        muster.Plan.from_json("{}")
    other = '{"version": 1, "stack": "eu1", "org": "other.example"}'
    with pytest.raises(muster.PlanError):
        muster.functional_accounts(users, hr, state=other)


def test_a_plan_for_another_gateway_is_refused(emu: Emulator, seed: dict, hr: muster.HrRecords) -> None:
    with Emulator(seed) as other:
        gw_a = muster.Gateway.essentials(emu.url, org=ORG, user=LOGIN, password=PASSWORD)
        gw_b = muster.Gateway.essentials(other.url, org=ORG, user=LOGIN, password=PASSWORD)
        plan = muster.functional_accounts(gw_a.list_users(), hr, override_threshold=True)
        with pytest.raises(muster.ApplyError, match="stack"):
            gw_b.apply(plan)
        assert other.writes() == []


def _put(emu: Emulator, email: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{emu.url}/orgs/{ORG}/users/{email}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"X-User": LOGIN, "X-Password": PASSWORD, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 204


def test_a_stale_plan_writes_nothing_to_the_changed_account(
    emu: Emulator, gw: muster.Gateway, hr: muster.HrRecords
) -> None:
    plan = muster.functional_accounts(gw.list_users(), hr, override_threshold=True)
    # Another administrator changes Bob after the plan was made.
    bob = emu.user(ORG, "bob@example.com")
    bob["type"] = "silent_user"
    _put(emu, "bob@example.com", bob)

    report = gw.apply(plan)
    outcomes = {c["email"]: c for c in report.changes}
    assert outcomes["bob@example.com"]["outcome"] == "stale"
    assert "reason" in outcomes["bob@example.com"]
    assert outcomes["carol@example.com"]["outcome"] == "applied"
    assert report.counts["stale"] == 1
    assert not report.is_complete
    assert emu.user(ORG, "bob@example.com")["type"] == "silent_user", "not overwritten"
    with pytest.raises(muster.StaleError, match="bob@example.com") as caught:
        report.raise_for_status()
    assert isinstance(caught.value, muster.ApplyError)

    # Planning again from what the gateway now holds leaves Bob alone.
    again = muster.functional_accounts(
        gw.list_users(), hr, override_threshold=True, state=report.state_json
    )
    assert again.is_empty, str(again)
