"""Shared fixtures: an emulated organisation for the seed-002 HR flow."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator

import pytest

import muster
from muster.testing import Emulator

ORG = "example.com"
LOGIN = "admin@example.com"
PASSWORD = "Tr0ub4dor&3-not-in-any-message"

SEED: Dict[str, Any] = {
    "orgs": [
        {
            "primary_domain": ORG,
            "name": "Example Ltd",
            "domains": ["example.org"],
            "user_licenses": 10,
            "users": [
                {"primary_email": LOGIN, "firstname": "Ada", "type": "organization_admin"},
                {"primary_email": "ann@example.com", "firstname": "Ann", "surname": "Lee"},
                {
                    "primary_email": "bob@example.com",
                    "firstname": "Bob",
                    "surname": "Ray",
                    "alias_emails": ["bob@example.org"],
                    "white_list_senders": ["partner.example"],
                },
                {"primary_email": "carol@example.com", "firstname": "Carol"},
                {"primary_email": "dave@example.com", "firstname": "Dave"},
                {"primary_email": "helpdesk@example.com", "type": "functional_account"},
            ],
        }
    ],
    "logins": [
        {"user": LOGIN, "password": PASSWORD, "type": "organization_admin", "orgs": [ORG]}
    ],
    # The suite makes a few hundred requests; the pacing itself is tested in Rust.
    "rate_limit": {"requests": 100000, "window_secs": 60},
}

#: What the HR system says: Bob has left, Carol is not listed at all.
HR_ROWS = [
    {"email": "ann@example.com", "status": "Active", "company_code": "EX"},
    {"email": "bob@example.com", "status": "Terminated", "company_code": "EX"},
    {"email": "dave@example.com", "status": "Leave", "company_code": 7},
]


@pytest.fixture
def seed() -> Dict[str, Any]:
    return copy.deepcopy(SEED)


@pytest.fixture
def emu(seed: Dict[str, Any]) -> Iterator[Emulator]:
    with Emulator(seed) as emulator:
        yield emulator


@pytest.fixture
def gw(emu: Emulator) -> muster.Gateway:
    return muster.Gateway.essentials(
        emu.url, org=ORG, user=LOGIN, password=PASSWORD, requests_per_minute=100000
    )


@pytest.fixture
def hr() -> muster.HrRecords:
    return muster.HrRecords.from_rows(HR_ROWS, source="hr-db")
