"""The Rust side's diagnostics arrive in Python's `logging`, under `muster`."""

from __future__ import annotations

import logging

import pytest

import muster
from conftest import PASSWORD


def test_gateway_requests_are_logged_as_they_end_without_the_password(
    gw: muster.Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="muster")
    users = gw.list_users()
    assert len(users) == 6
    requests = [
        r.getMessage()
        for r in caplog.records
        if r.name == "muster.gateway" and r.getMessage().startswith("gateway.request")
    ]
    # Handed over by the call itself: present as soon as it returns.
    listing = [m for m in requests if "path=/api/v1/orgs/example.com/users " in m]
    assert listing, requests
    assert "method=GET" in listing[0] and "status=200" in listing[0], listing[0]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "muster.gateway")
    assert PASSWORD not in caplog.text


def test_nothing_is_logged_below_the_level_python_asks_for(
    gw: muster.Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="muster")
    gw.list_users()
    assert [r for r in caplog.records if r.name.startswith("muster")] == []


def test_the_library_adds_only_a_null_handler() -> None:
    # An application that configures nothing gets no output from muster
    # (Python's last-resort handler would print its warnings on stderr).
    handlers = logging.getLogger("muster").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]
