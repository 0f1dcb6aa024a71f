"""muster keeps a cloud email-security gateway's users in step with an
organisation's directories and HR system.

The seed-002 HR script, in a few lines::

    import muster
    gw = muster.Gateway.essentials("us1", org="example.com", user=..., password=...)
    hr = muster.HrRecords.from_csv("hr.csv")      # or HrRecords.from_rows(list_of_dicts)
    plan = muster.functional_accounts(gw.list_users(), hr)
    print(plan.summary()); plan.to_csv("preview.csv")
    report = gw.apply(plan)

Every call is synchronous and releases the GIL while Rust does the IO.
Inputs and outputs are plain data (dicts, lists, str). Errors are
``muster.MusterError`` subclasses whose messages never carry a password.
What the Rust side does is logged under the logger ``muster`` (each
gateway and Graph request, each LDAP read, each applied change); like any
library, muster only adds a ``NullHandler``: configure ``logging`` to see it.
"""

from __future__ import annotations

import logging as _logging
from collections.abc import Sequence as _Sequence
from typing import List

from muster import types
from muster._muster import (
    ApplyError,
    ApplyReport,
    Config,
    ConfigError,
    Entries,
    DeltaRead,
    DirectorySnapshot,
    DiscoveryLedger,
    EmulatorError,
    Gateway,
    GatewayError,
    GatewaySnapshot,
    GraphCursor,
    GraphSource,
    HrRecords,
    LdapSource,
    LeaseError,
    MappedCsv,
    MusterError,
    Plan,
    PlanError,
    PostiniCsv,
    SourceError,
    StaleError,
    StandardCsv,
    __version__,
    approve,
    functional_accounts,
    plan,
    show,
)
from muster.types import Account

# `entries` is a read-only sequence: isinstance(snapshot.entries, Sequence) holds.
_Sequence.register(Entries)

# A library adds no handler but this one (the logging HOWTO): without it an
# application that configures nothing would get muster's warnings on stderr.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())


class Users(List[Account]):
    """The accounts ``Gateway.list_users()`` read: a plain list of account
    dicts (``primary_email``, ``user_type``, ``aliases``, ``active``, …) that
    also remembers the gateway's profile (registered domains, licences,
    login) in ``snapshot``, so ``muster.plan`` and
    ``muster.functional_accounts`` can plan from it.

    Filtering it gives a plain list, which plans as "these accounts only"
    with a profile made up from their domains.
    """

    snapshot: GatewaySnapshot

    def __init__(self, accounts: List[Account], snapshot: GatewaySnapshot) -> None:
        super().__init__(accounts)
        self.snapshot = snapshot

    def __repr__(self) -> str:
        return f"Users({len(self)} accounts of {self.snapshot.org!r})"


__all__ = [
    "ApplyError",
    "ApplyReport",
    "Config",
    "ConfigError",
    "Entries",
    "DeltaRead",
    "DirectorySnapshot",
    "DiscoveryLedger",
    "EmulatorError",
    "Gateway",
    "GatewayError",
    "GatewaySnapshot",
    "GraphCursor",
    "GraphSource",
    "HrRecords",
    "LdapSource",
    "LeaseError",
    "MappedCsv",
    "MusterError",
    "Plan",
    "PlanError",
    "PostiniCsv",
    "SourceError",
    "StaleError",
    "StandardCsv",
    "Users",
    "__version__",
    "approve",
    "functional_accounts",
    "plan",
    "show",
    "types",
]
