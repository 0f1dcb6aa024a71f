"""The shapes of muster's plain data, for type checkers.

Every record muster hands to Python is a plain ``dict`` (``json.dumps`` it,
compare it, put it in a DataFrame); these ``TypedDict``\\ s say which keys
each one has and what they hold, and the ``Literal`` aliases spell every
option value the way the config file and the command line do. A misspelt
key (``entry["primary_mail"]``) or option (``mode="authoritive"``) is then
an error under ``mypy --strict``, not at 3 a.m.

Import them for annotations::

    from muster.types import Account, Entry

    def leavers(users: list[Account]) -> list[str]:
        return [u["primary_email"] for u in users if not u["active"]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, TypedDict, Union

if TYPE_CHECKING:
    import os

    from muster._muster import DirectorySnapshot

# --- option values ------------------------------------------------------------

#: Whether the directory is the system of truth (`authoritative`) or only adds and updates.
Mode = Literal["authoritative", "supplemental"]
#: What the HR rule does to an end user absent from HR or terminated there.
HrAction = Literal["functional_account", "flag"]
#: How long an absent account stays flagged before it is deleted.
DeleteDelay = Literal["7d", "14d", "30d", "never"]
#: Which objects an LDAP source reads.
LdapObjects = Literal["users", "groups", "both"]
#: A national cloud of Entra ID.
GraphCloud = Literal["global", "us_government", "us_government_dod", "china"]
#: Whether B2B members of an Entra ID tenant are synced.
ExternalMembers = Literal["sync", "skip"]
#: How a CSV file is encoded.
Encoding = Literal["auto", "utf-8", "windows-1252"]
#: How a CSV file's fields are separated.
Delimiter = Literal["auto", "comma", "semicolon", "tab"]
#: How `show` renders a plan.
ShowFormat = Literal["text", "json", "csv"]
#: What a plan means for a scheduler (`Plan.outcome`), in the exit-code table's words.
PlanOutcome = Literal["nothing to do", "would change", "source unsafe", "threshold exceeded"]
#: A field of a directory entry (the mapped CSV's column map keys).
Field = Literal[
    "first_name",
    "last_name",
    "aliases",
    "mobile",
    "phone",
    "company",
    "department",
    "notes",
    "enabled",
    "groups",
    "kind",
    "allow_senders",
    "block_senders",
    "external_id",
]
#: A Postini user export's renamable columns: the primary address, or a field.
PostiniUserColumn = Union[Literal["primary"], Field]
#: A Postini alias export's renamable columns.
PostiniAliasColumn = Literal["address", "domain", "user_id", "user_address"]
#: A gateway account's type.
UserType = Literal[
    "end_user",
    "silent_user",
    "functional_account",
    "organization_admin",
    "channel_admin",
    "strategic_partner_admin",
    "oem_partner_admin",
]
#: What kind of recipient a directory entry is.
RecipientKind = Literal[
    "user_mailbox",
    "shared_mailbox",
    "room_mailbox",
    "equipment_mailbox",
    "distribution_group",
    "security_group",
    "contact",
    "public_folder",
]
#: What a plan does to one account.
ChangeKind = Literal["create", "rename", "update", "flag", "delete"]
#: When a change runs.
Phase = Literal["release", "create", "rename", "update", "deactivate", "delete"]
#: What happened to one change when a plan was applied.
OutcomeName = Literal[
    "applied", "already_applied", "stale", "failed", "skipped", "dry_run", "excluded"
]

#: Why an account is a User Conflict.
ConflictKind = Literal["absent", "unknown_origin", "hr"]
#: What an administrator can do about a conflict.
ConflictActionName = Literal["delete_now", "ignore", "deactivate", "export"]
#: Why the planner refused a directory entry.
SkipCode = Literal[
    "outside_managed_domains",
    "alias_outside_managed_domains",
    "address_clash",
    "protected",
    "exception",
    "kind_not_synced",
    "source_issue",
    "exempt",
]
#: Which rule decided the welcome letters.
WelcomeRule = Literal["end_users", "off_by_policy", "off_for_organisation"]

# --- records ------------------------------------------------------------------


class Account(TypedDict):
    """A gateway account, as ``Gateway.list_users()`` lists it."""

    primary_email: str
    first_name: Optional[str]
    last_name: Optional[str]
    aliases: List[str]
    user_type: UserType
    active: bool
    billable: Optional[bool]
    read_only: bool
    mobile: Optional[str]
    phone: Optional[str]
    company: Optional[str]
    department: Optional[str]
    notes: Optional[str]
    groups: List[str]
    allow_senders: List[str]
    block_senders: List[str]


class Entry(TypedDict):
    """A directory entry, as ``DirectorySnapshot.entries`` reads it."""

    kind: RecipientKind
    primary_email: str
    aliases: List[str]
    first_name: Optional[str]
    last_name: Optional[str]
    mobile: Optional[str]
    phone: Optional[str]
    company: Optional[str]
    department: Optional[str]
    notes: Optional[str]
    enabled: bool
    member_of: List[str]
    external_id: Optional[str]
    allow_senders: List[str]
    block_senders: List[str]
    attributes: Dict[str, str]
    #: Where the source read it: ``{"at": "line", "file": ..., "line": 2}``,
    #: an LDAP DN or a Graph object id.
    location: Optional[Dict[str, Any]]


class Issue(TypedDict):
    """A record a source could not use, and why."""

    location: str
    field: Optional[str]
    value: Optional[str]
    expected: str
    related: Optional[str]
    message: str


class Note(TypedDict):
    """What a source counted rather than listed."""

    kind: Literal["guests", "without_mail", "external_members", "other_members"]
    count: int
    examples: List[str]
    kept: bool
    message: str


class HrRecord(TypedDict):
    """One person in the HR records."""

    email: str
    status: str
    attributes: Dict[str, str]
    location: Optional[str]


class _ChangeKeys(TypedDict):
    id: int
    email: str
    kind: ChangeKind
    phase: Phase
    steps: List[Dict[str, Any]]
    expect: Dict[str, Any]
    reason: str


class Change(_ChangeKeys, total=False):
    """One account's change in a plan: its steps, the before-values it
    expects and why; the changes it waits for (``depends_on``, when it
    takes an address another releases) and the state transitions it causes
    (``transitions``), each only when there are some."""

    depends_on: List[int]
    transitions: List[Dict[str, Any]]


class Outcome(TypedDict, total=False):
    """What applying did to one change: ``id``, ``email``, ``kind`` and
    ``outcome`` always; ``reason``, ``error``, ``retryable`` or
    ``requests`` as the outcome has them."""

    id: int
    email: str
    kind: ChangeKind
    outcome: OutcomeName
    reason: str
    error: str
    retryable: bool
    requests: List[str]


class Approved(TypedDict):
    """What ``Plan.approve`` would apply."""

    included: List[int]
    excluded: List[int]
    brought_along: List[Dict[str, Any]]


class _SummaryKeys(TypedDict):
    #: Account changes per heading (``"create"``, ``"delete"``…).
    changes: Dict[str, int]
    #: Steps per kind.
    steps: Dict[str, int]
    conflicts: int
    skipped: int
    welcome_letters: int
    welcome_rule: WelcomeRule
    billable_before: int
    billable_after: int
    #: Estimated requests to the gateway.
    api_calls: int


class Summary(_SummaryKeys, total=False):
    """``Plan.summary()``: the counts a reviewer reads first."""

    #: Licences bought, when the gateway says.
    licence_count: int
    over_licence_by: int


class _ConflictKeys(TypedDict):
    email: str
    user_type: UserType
    #: Who made it: ``"manual"``, ``"unknown"``… or ``{"directory": NAME}``.
    origin: Union[str, Dict[str, str]]
    kind: ConflictKind
    absent_runs: int
    ignored: bool
    reason: str
    actions: List[ConflictActionName]


class Conflict(_ConflictKeys, total=False):
    """One row of the User Conflicts list (``Plan.conflicts``,
    ``Config.conflicts()``)."""

    #: RFC 3339, when it was flagged (after this plan is applied).
    flagged_since: str
    #: RFC 3339, the earliest time it can be deleted, if ever.
    delete_after: str


class _SkippedKeys(TypedDict):
    email: str
    source: str
    code: SkipCode
    reason: str


class Skipped(_SkippedKeys, total=False):
    """An entry the planner refused (``Plan.skipped``), and why."""

    location: Dict[str, Any]


class _ThresholdKeys(TypedDict):
    destructive: int
    allowed: int
    creates: int
    creates_allowed: int
    overridden: bool


class Threshold(_ThresholdKeys, total=False):
    """``Plan.threshold``: the destructive-change and create limits."""

    exceeded_by: int
    creates_exceeded_by: int
    licences_exceeded_by: int


class Counts(TypedDict):
    """``ApplyReport.counts``: how many changes ended each way."""

    applied: int
    already_applied: int
    stale: int
    failed: int
    skipped: int
    dry_run: int
    excluded: int


class ProgressStarted(TypedDict):
    """A change is about to be sent (or checked, in a dry run)."""

    event: Literal["started"]
    id: int
    email: str
    kind: ChangeKind


class _ProgressFinishedKeys(TypedDict):
    event: Literal["finished"]
    id: int
    email: str
    kind: ChangeKind
    outcome: OutcomeName
    #: Changes with an outcome so far, this one included.
    done: int
    #: Changes in the plan.
    total: int


class ProgressFinished(_ProgressFinishedKeys, total=False):
    """A change has an outcome: its fields as in ``ApplyReport.changes``
    (``reason``, ``error``… as the outcome has them), and how many of the
    plan's changes are done."""

    reason: str
    error: str
    retryable: bool
    requests: List[str]


#: What ``progress=`` receives: tell the two apart by ``event["event"]``.
ProgressEvent = Union[ProgressStarted, ProgressFinished]
#: A ``progress=`` callable; called on the thread that called ``apply``.
#: An exception it raises stops the apply cleanly and is raised by ``apply``.
Progress = Callable[[ProgressEvent], object]

class Tally(TypedDict):
    """Messages counted, each way."""

    inbound: int
    outbound: int


class SeenName(TypedDict):
    """A display name from the headers, and when it was seen."""

    name: str
    seen: str


class _SeenKeys(TypedDict):
    address: str
    first_seen: str
    last_seen: str
    total: Tally
    #: Per day (``"2026-11-19"``).
    days: Dict[str, Tally]


class Seen(_SeenKeys, total=False):
    """Everything the discovery ledger saw of one address."""

    display_name: SeenName


class _BecomesKeys(TypedDict):
    becomes: Literal["user", "alias_of", "functional_account"]


class Becomes(_BecomesKeys, total=False):
    """What a discovered address would become; ``user`` for an alias."""

    user: str


class _CandidateReasonKeys(TypedDict):
    why: Literal["threshold", "decision"]


class CandidateReason(_CandidateReasonKeys, total=False):
    """Why it is a candidate: enough mail, or an administrator's decision (``decided_at``)."""

    decided_at: str


class Candidate(TypedDict):
    """An address ``DiscoveryLedger.candidates()`` proposes."""

    address: str
    becomes: Becomes
    reason: CandidateReason
    #: Messages counted in the window.
    counted: int
    seen: Optional[Seen]


# --- options ------------------------------------------------------------------


#: A file's path, as ``open()`` takes it.
PathArg = Union[str, "os.PathLike[str]"]


class ApplyOptions(TypedDict, total=False):
    """The keyword options ``Gateway.apply`` and ``Config.apply`` share."""

    #: Check every change and write nothing.
    dry_run: bool
    #: A JSON-lines journal: every outcome is appended; a re-run resumes.
    journal: Optional[PathArg]
    #: Stop after this many changes.
    max_changes: Optional[int]
    #: Leave out these changes (addresses or ``"#12"`` ids), in whole approval units.
    exclude: Optional[Sequence[str]]
    #: Apply only these changes, and what they bring along.
    only: Optional[Sequence[str]]
    #: An approval file (``muster approve``), or the reviewed CSV preview.
    approval: Optional[PathArg]
    #: Called with each ``ProgressEvent`` on the thread that called ``apply``.
    progress: Optional[Progress]


class GatewayApplyOptions(ApplyOptions, total=False):
    """The keyword options of ``Gateway.apply``."""

    #: Changes in flight at once (default 4).
    concurrency: int


class ConfigApplyOptions(ApplyOptions, total=False):
    """The keyword options of ``Config.apply``."""

    #: The state file, instead of the config's ``files.state``.
    state: Optional[PathArg]
    #: Apply a plan past the destructive-change threshold.
    override_threshold: bool


class CommonPlanOptions(TypedDict, total=False):
    """The options ``muster.plan`` and ``muster.functional_accounts`` share."""

    #: Let the plan exceed the destructive-change threshold (after reading it).
    override_threshold: bool
    #: ``(count, percent)``: at most this many destructive changes, and this
    #: percentage of the accounts (default ``(25, 10)``).
    threshold: Optional[Tuple[int, int]]
    #: The sync state of the last run, as JSON (``report.state_json``).
    state: Optional[str]
    #: The time to plan for, RFC 3339 (default: now).
    now: Optional[str]
    #: The organisation, when ``users`` is a plain list.
    org: Optional[str]
    #: The stack label, when ``users`` is a plain list.
    stack: Optional[str]


class PlanOptions(CommonPlanOptions, total=False):
    """The keyword options of ``muster.plan``."""

    supplemental: Optional[Sequence[DirectorySnapshot]]
    managed_domains: Optional[Sequence[str]]
    mode: Mode
    hr_action: Optional[HrAction]
    allow: Optional[Sequence[str]]
    exceptions: Optional[Sequence[str]]
    welcome_letters: bool
    delete_delay: Optional[DeleteDelay]
    sync_disabled_users: bool


class FunctionalAccountsOptions(CommonPlanOptions, total=False):
    """The keyword options of ``muster.functional_accounts``."""

    allow: Optional[Sequence[str]]
    action: HrAction


__all__ = [
    "Account",
    "Becomes",
    "Candidate",
    "CandidateReason",
    "Seen",
    "SeenName",
    "Tally",
    "ApplyOptions",
    "ConfigApplyOptions",
    "GatewayApplyOptions",
    "PathArg",
    "Conflict",
    "ConflictActionName",
    "ConflictKind",
    "Counts",
    "Progress",
    "ProgressEvent",
    "ProgressFinished",
    "ProgressStarted",
    "SkipCode",
    "Skipped",
    "Summary",
    "Threshold",
    "WelcomeRule",
    "Approved",
    "Change",
    "ChangeKind",
    "CommonPlanOptions",
    "DeleteDelay",
    "Delimiter",
    "Encoding",
    "Entry",
    "ExternalMembers",
    "Field",
    "FunctionalAccountsOptions",
    "GraphCloud",
    "HrAction",
    "HrRecord",
    "Issue",
    "LdapObjects",
    "Mode",
    "Note",
    "Outcome",
    "OutcomeName",
    "Phase",
    "PlanOptions",
    "PlanOutcome",
    "PostiniAliasColumn",
    "PostiniUserColumn",
    "RecipientKind",
    "ShowFormat",
    "UserType",
]
