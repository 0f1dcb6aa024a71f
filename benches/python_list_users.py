#!/usr/bin/env python3
"""`Gateway.list_users()` against the baseline a script writes by hand.

One in-process emulator (`muster.testing.Emulator`) holds N users. In the
same run, and alternating so that neither side gets a warmer machine:

- baseline: `urllib.request` GET of `/orgs/{org}/users` with the login
  headers, then `json.loads`: the seed-002 script's one request, as plain
  dicts;
- muster: `gw.list_users()`: the same listing, typed, checked and turned
  into account dicts (plus the login check and the organisation's profile
  the planner needs, which the baseline does not read).

Each side's time is the median of R rounds. The ratio is muster / baseline
(goal: at most 1.5).

Run it against a release build of the package (`pip install ./py-bindings`
builds one; the wheel `py-bindings/test.sh` builds for the tests is a debug
build and several times slower).

Usage: python benches/python_list_users.py [N] [ROUNDS]
Prints: python_list_users n=N baseline_s=B muster_s=M ratio=R
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request

import muster
from muster.testing import Emulator

ORG = "example.com"
LOGIN = "admin@example.com"
PASSWORD = "bench-password"


def seed(n: int) -> dict[str, object]:
    users: list[dict[str, object]] = [
        {"primary_email": LOGIN, "firstname": "Ada", "type": "organization_admin"}
    ]
    for i in range(n - 1):
        users.append(
            {
                "primary_email": f"user{i}@{ORG}",
                "firstname": f"First{i % 1000}",
                "surname": f"Last{i % 997}",
                "alias_emails": [f"user{i}.a@{ORG}"],
                "white_list_senders": ["partner.example"] if i % 10 == 0 else [],
            }
        )
    return {
        "orgs": [{"primary_domain": ORG, "name": "Bench", "user_licenses": n, "users": users}],
        "logins": [
            {"user": LOGIN, "password": PASSWORD, "type": "organization_admin", "orgs": [ORG]}
        ],
        "rate_limit": {"requests": 10_000_000, "window_secs": 60},
    }


def baseline(url: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"{url}/orgs/{ORG}/users", headers={"X-User": LOGIN, "X-Password": PASSWORD}
    )
    with urllib.request.urlopen(request) as response:
        users: list[dict[str, object]] = json.loads(response.read())["users"]
    return users


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with Emulator(seed(n)) as emu:
        gw = muster.Gateway.essentials(
            emu.url, org=ORG, user=LOGIN, password=PASSWORD, requests_per_minute=10_000_000
        )
        # Warm both paths (connections, allocator), and check they agree.
        plain = baseline(emu.url)
        typed = gw.list_users()
        assert len(plain) == len(typed) == n, (len(plain), len(typed))
        assert {u["primary_email"] for u in plain} == {u["primary_email"] for u in typed}
        base_times, muster_times = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            baseline(emu.url)
            base_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            gw.list_users()
            muster_times.append(time.perf_counter() - start)
    b, m = statistics.median(base_times), statistics.median(muster_times)
    print(
        f"python_list_users n={n} baseline_s={b:.4f} muster_s={m:.4f} ratio={m / b:.2f} "
        f"(goal <= 1.5; median of {rounds} rounds)"
    )


if __name__ == "__main__":
    main()
