"""A script with planted mistakes that `mypy --strict` must reject: each
line ending in `# E: <code>` is one, and nothing else may be reported.
(test_typing.py runs mypy on this file; it is never executed.)"""

from __future__ import annotations

from pathlib import Path
from typing import List

import muster
from muster.types import Account, Entry


def job(gw: muster.Gateway, snapshot: muster.DirectorySnapshot, hr: muster.HrRecords) -> None:
    users = gw.list_users()

    # What a script should write: no error on any of these lines.
    plan = muster.plan(users, snapshot, hr, mode="supplemental", delete_delay="14d", hr_action="flag")
    plan = muster.functional_accounts(users, hr, action="flag", allow=["ceo@example.com"])
    print(plan.show("csv"), muster.show(Path("plan.json"), format="json"))
    first: Entry = snapshot.entries[0]
    names: List[str] = [e["primary_email"] for e in snapshot.entries]
    admins = [a for a in users if a["user_type"] == "organization_admin"]
    report = gw.apply(plan, dry_run=True, exclude=["bob@example.com", "#3"])
    done = [c["id"] for c in report.changes if c["outcome"] == "applied"]
    print(first, names, admins, done)

    # Misspelt option values.
    muster.plan(users, snapshot, mode="authoritive")  # E: arg-type
    muster.plan(users, snapshot, delete_delay="14days")  # E: arg-type
    muster.plan(users, snapshot, hr_action="functional")  # E: arg-type
    muster.functional_accounts(users, hr, action="make_functional")  # E: arg-type
    muster.LdapSource("ldaps://dc.example.com", "DC=example,DC=com", objects="user")  # E: arg-type
    muster.GraphSource("tenant", "client", "secret", cloud="usgov")  # E: arg-type
    muster.MappedCsv("staff.csv", primary="Email", encoding="utf8")  # E: arg-type
    muster.MappedCsv("staff.csv", primary="Email", columns={"frist_name": "First"})  # E: dict-item
    muster.PostiniCsv("users.csv", alias_columns={"adress": "Alias"})  # E: dict-item
    plan.show("html")  # E: arg-type

    # A misspelt option name.
    muster.plan(users, snapshot, modee="authoritative")  # E: call-arg

    # Misspelt record keys and values.
    account: Account = users[0]
    print(account["primary_mail"])  # E: typeddict-item
    print(snapshot.entries[0]["frist_name"])  # E: typeddict-item
    print(snapshot.issues[0]["line"])  # E: typeddict-item
    print(plan.changes[0]["emial"])  # E: typeddict-item
    print(report.changes[0]["outcom"])  # E: typeddict-item
    if account["user_type"] == "functional":  # E: comparison-overlap
        pass
    if report.changes[0]["outcome"] == "succeeded":  # E: comparison-overlap
        pass


def operate(config: muster.Config, gw: muster.Gateway, plan: muster.Plan) -> None:
    # What a script should write: no error on any of these lines.
    def progress(event: muster.types.ProgressEvent) -> None:
        if event["event"] == "finished":
            print(event["done"], event["total"], event["outcome"])

    report = config.apply(plan, progress=progress, state=Path("state.json"), exclude=["#2"])
    gw.apply(plan, concurrency=2, journal="apply.journal", progress=print)
    print(report.counts["applied"], plan.summary()["api_calls"], plan.threshold["allowed"])
    gone = [c["email"] for c in config.conflicts() if c["kind"] == "absent" and not c["ignored"]]
    config.apply(config.delete_now(gone, include_unowned=True))
    config.exempt("bob@example.com", reason="contractor")
    config.restore("apply.journal", ["bob@example.com"])
    print(plan.show_conflicts("csv"), [s["code"] for s in plan.skipped])

    # Planted mistakes on the operating API.
    gw.apply(plan, state="state.json")  # E: call-arg
    config.apply(plan, concurrency=2)  # E: call-arg
    config.apply(plan, progress="print")  # E: arg-type
    print(config.conflicts()[0]["flagged"])  # E: typeddict-item
    if config.conflicts()[0]["kind"] == "unowned":  # E: comparison-overlap
        pass
    if plan.skipped[0]["code"] == "exempted":  # E: comparison-overlap
        pass
    print(report.counts["succeeded"])  # E: typeddict-item
    plan.show_conflicts("xlsx")  # E: arg-type
    config.delete_now("bob@example.com", include_unowned="yes")  # E: arg-type

    def started_only(event: muster.types.ProgressEvent) -> None:
        print(event["done"])  # E: typeddict-item
