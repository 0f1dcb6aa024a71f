"""Seed 002 with muster: end users who are not employed become functional
accounts (they stop using a licence; their mail keeps flowing).

    MUSTER_STACK=us1 MUSTER_ORG=example.com MUSTER_LOGIN=api@example.com \\
    MUSTER_PASSWORD=... python hr_functional_accounts.py hr.csv [--apply]

Without --apply it only previews (and writes preview.csv). The test suite
runs `run()` against the emulator.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import muster


def run(
    gw: muster.Gateway,
    hr: muster.HrRecords,
    *,
    apply: bool,
    preview_csv: str = "preview.csv",
    journal: Optional[str] = None,
) -> Optional[muster.ApplyReport]:
    for issue in hr.issues:
        print(f"warning: {issue['message']}", file=sys.stderr)
    # Review first: above the destructive threshold the plan needs the
    # administrator's explicit override, given here by --apply.
    plan = muster.functional_accounts(gw.list_users(), hr, override_threshold=apply)
    print(plan)
    print(plan.summary())
    plan.to_csv(preview_csv)
    if not apply or plan.is_empty:
        return None
    report = gw.apply(plan, journal=journal)
    report.raise_for_status()
    return report


def main() -> int:
    gw = muster.Gateway.essentials(
        os.environ["MUSTER_STACK"],
        org=os.environ["MUSTER_ORG"],
        user=os.environ["MUSTER_LOGIN"],
        password=os.environ["MUSTER_PASSWORD"],
    )
    hr = muster.HrRecords.from_csv(sys.argv[1])
    try:
        run(gw, hr, apply="--apply" in sys.argv[2:], journal="hr-apply.jsonl")
    except muster.MusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
