"""Type stubs of the compiled module ``muster._muster`` (re-exported by ``muster``)."""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Union, final, overload

from typing_extensions import Unpack

from muster import Users
from muster.types import (
    Approved,
    Candidate,
    Change,
    ConfigApplyOptions,
    Conflict,
    Counts,
    Delimiter,
    Encoding,
    Entry,
    ExternalMembers,
    Field,
    FunctionalAccountsOptions,
    GatewayApplyOptions,
    GraphCloud,
    HrRecord,
    Issue,
    LdapObjects,
    Note,
    Outcome,
    PathArg,
    PlanOptions,
    PlanOutcome,
    PostiniAliasColumn,
    PostiniUserColumn,
    ShowFormat,
    Skipped,
    Summary,
    Threshold,
)

_Path = PathArg

__version__: str

__all__ = [
    "ApplyError",
    "ApplyReport",
    "Config",
    "ConfigError",
    "Entries",
    "DeltaRead",
    "DirectorySnapshot",
    "DiscoveryLedger",
    "Emulator",
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
    "__version__",
    "approve",
    "functional_accounts",
    "plan",
    "show",
]

class MusterError(Exception): ...

class GatewayError(MusterError):
    status: Optional[int]
    retryable: bool

class SourceError(MusterError):
    retryable: bool
class PlanError(MusterError): ...
class ApplyError(MusterError): ...
class StaleError(ApplyError): ...
class EmulatorError(MusterError): ...
class ConfigError(MusterError): ...
class LeaseError(MusterError): ...

@final
class GatewaySnapshot:
    @property
    def registered_domains(self) -> List[str]: ...
    @property
    def licence_count(self) -> Optional[int]: ...
    @property
    def stack(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def read_only_login(self) -> bool: ...

@final
class Gateway:
    @staticmethod
    def essentials(
        stack_or_url: str,
        *,
        org: str,
        user: str,
        password: str,
        requests_per_minute: Optional[int] = None,
        timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
    ) -> Gateway: ...
    @property
    def stack(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def user(self) -> str: ...
    def list_users(self) -> Users: ...
    def apply(self, plan: Plan, **options: Unpack[GatewayApplyOptions]) -> ApplyReport: ...

@final
class Plan:
    def summary(self) -> Summary: ...
    def to_csv(self, path: Optional[_Path] = None) -> str: ...
    def to_json(self, path: Optional[_Path] = None) -> str: ...
    def show(self, format: ShowFormat = "text") -> str: ...
    def show_conflicts(self, format: ShowFormat = "text") -> str: ...
    def approve(
        self,
        *,
        exclude: Optional[Sequence[str]] = None,
        only: Optional[Sequence[str]] = None,
        approval: Optional[_Path] = None,
    ) -> Approved: ...
    @staticmethod
    def from_json(text: str, *, state: Optional[str] = None) -> Plan: ...
    @property
    def changes(self) -> List[Change]: ...
    @property
    def conflicts(self) -> List[Conflict]: ...
    @property
    def skipped(self) -> List[Skipped]: ...
    @property
    def guards(self) -> List[str]: ...
    @property
    def threshold(self) -> Threshold: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def org(self) -> str: ...
    @property
    def stack(self) -> str: ...
    @property
    def is_empty(self) -> bool: ...
    @property
    def requires_override(self) -> bool: ...
    @property
    def outcome(self) -> PlanOutcome: ...
    @property
    def exit_code(self) -> Literal[0, 2, 4, 5]: ...
    @property
    def state_json(self) -> str: ...
    def __len__(self) -> int: ...

@final
class ApplyReport:
    @property
    def changes(self) -> List[Outcome]: ...
    @property
    def counts(self) -> Counts: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def halted(self) -> Optional[str]: ...
    @property
    def is_complete(self) -> bool: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def state_json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def raise_for_status(self) -> None: ...

@final
class HrRecords:
    @staticmethod
    def from_csv(
        path: _Path,
        *,
        email: str = "email",
        status: str = "status",
        statuses: Optional[Mapping[str, str]] = None,
        name: Optional[str] = None,
    ) -> HrRecords: ...
    @staticmethod
    def from_rows(
        rows: Sequence[Mapping[str, Any]],
        *,
        email: str = "email",
        status: str = "status",
        statuses: Optional[Mapping[str, str]] = None,
        source: str = "rows",
    ) -> HrRecords: ...
    @property
    def records(self) -> List[HrRecord]: ...
    @property
    def issues(self) -> List[Issue]: ...
    @property
    def source(self) -> str: ...
    @property
    def complete(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class Entries(Sequence[Entry]):
    """A read-only view of a snapshot's entries: a new dict per read."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: int, /) -> Entry: ...
    @overload
    def __getitem__(self, index: slice, /) -> List[Entry]: ...
    def __iter__(self) -> Iterator[Entry]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def __reversed__(self) -> Iterator[Entry]: ...
    def index(self, value: Any) -> int: ...  # type: ignore[override]
    def count(self, value: Any) -> int: ...

@final
class DirectorySnapshot:
    @property
    def entries(self) -> Entries: ...
    @property
    def issues(self) -> List[Issue]: ...
    @property
    def notes(self) -> List[Note]: ...
    @property
    def provided(self) -> List[str]: ...
    @property
    def source(self) -> str: ...
    @property
    def complete(self) -> bool: ...
    def __len__(self) -> int: ...

@final
class StandardCsv:
    def __new__(cls, path: _Path, *, name: Optional[str] = None) -> StandardCsv: ...
    def read(self) -> DirectorySnapshot: ...

@final
class MappedCsv:
    def __new__(
        cls,
        path: _Path,
        *,
        primary: str,
        columns: Optional[Mapping[Field, Union[str, Sequence[str]]]] = None,
        optional_columns: Optional[Mapping[Field, Union[str, Sequence[str]]]] = None,
        separators: Optional[Mapping[Field, str]] = None,
        encoding: Optional[Encoding] = None,
        delimiter: Optional[Delimiter] = None,
        name: Optional[str] = None,
    ) -> MappedCsv: ...
    def read(self) -> DirectorySnapshot: ...

@final
class PostiniCsv:
    def __new__(
        cls,
        users: _Path,
        *,
        aliases: Optional[_Path] = None,
        user_columns: Optional[Mapping[PostiniUserColumn, str]] = None,
        alias_columns: Optional[Mapping[PostiniAliasColumn, str]] = None,
        encoding: Optional[Encoding] = None,
        delimiter: Optional[Delimiter] = None,
        name: Optional[str] = None,
    ) -> PostiniCsv: ...
    def read(self) -> DirectorySnapshot: ...

@final
class Config:
    @staticmethod
    def load(path: _Path) -> Config: ...
    @property
    def org(self) -> Optional[str]: ...
    @property
    def stack(self) -> Optional[str]: ...
    @property
    def state_file(self) -> Optional[Path]: ...
    @property
    def journals(self) -> Optional[Path]: ...
    @property
    def sources(self) -> List[str]: ...
    def to_toml(self) -> str: ...
    def plan(
        self,
        *,
        state: Optional[_Path] = None,
        override_threshold: bool = False,
        now: Optional[str] = None,
    ) -> Plan: ...
    def apply(self, plan: Plan, **options: Unpack[ConfigApplyOptions]) -> ApplyReport: ...
    def conflicts(
        self,
        *,
        plan: Union[Plan, _Path, None] = None,
        state: Optional[_Path] = None,
        now: Optional[str] = None,
    ) -> List[Conflict]: ...
    def export_conflicts(
        self,
        path: _Path,
        *,
        plan: Union[Plan, _Path, None] = None,
        state: Optional[_Path] = None,
        now: Optional[str] = None,
    ) -> int: ...
    def delete_now(
        self,
        addresses: Sequence[str],
        *,
        include_unowned: bool = False,
        state: Optional[_Path] = None,
        override_threshold: bool = False,
        now: Optional[str] = None,
    ) -> Plan: ...
    def deactivate(
        self,
        addresses: Sequence[str],
        *,
        include_unowned: bool = False,
        state: Optional[_Path] = None,
        override_threshold: bool = False,
        now: Optional[str] = None,
    ) -> Plan: ...
    def ignore(self, addresses: Sequence[str], *, state: Optional[_Path] = None) -> None: ...
    def unignore(self, addresses: Sequence[str], *, state: Optional[_Path] = None) -> List[str]: ...
    def exempt(
        self,
        address: str,
        *,
        reason: Optional[str] = None,
        state: Optional[_Path] = None,
        now: Optional[str] = None,
    ) -> None: ...
    def unexempt(self, address: str, *, state: Optional[_Path] = None) -> bool: ...
    def restore(
        self,
        journal: _Path,
        addresses: Optional[Sequence[str]] = None,
        *,
        state: Optional[_Path] = None,
        now: Optional[str] = None,
    ) -> Plan: ...

@final
class DiscoveryLedger:
    def __new__(cls) -> DiscoveryLedger: ...
    @staticmethod
    def from_json(text: str) -> DiscoveryLedger: ...
    def to_json(self) -> str: ...
    def observe(
        self, rows: Sequence[Mapping[str, Any]], *, now: Optional[str] = None
    ) -> List[Issue]: ...
    def observe_csv(self, path: _Path, *, now: Optional[str] = None) -> List[Issue]: ...
    def candidates(
        self,
        managed_domains: Sequence[str],
        *,
        min_messages: Optional[int] = None,
        window_days: Optional[int] = None,
        expiry_days: Optional[int] = None,
        now: Optional[str] = None,
    ) -> List[Candidate]: ...
    def snapshot(
        self,
        managed_domains: Sequence[str],
        *,
        min_messages: Optional[int] = None,
        window_days: Optional[int] = None,
        expiry_days: Optional[int] = None,
        now: Optional[str] = None,
    ) -> DirectorySnapshot: ...
    def __len__(self) -> int: ...

@final
class LdapSource:
    def __new__(
        cls,
        url: str,
        base_dn: str,
        *,
        bind_dn: Optional[str] = None,
        password: Optional[str] = None,
        filter: Optional[str] = None,
        starttls: bool = False,
        ca_pem: Union[bytes, str, None] = None,
        platform_roots: bool = True,
        objects: LdapObjects = "users",
        name: Optional[str] = None,
    ) -> LdapSource: ...
    def read(self) -> DirectorySnapshot: ...

@final
class GraphSource:
    def __new__(
        cls,
        tenant: str,
        client_id: str,
        client_secret: str,
        *,
        filter: Optional[str] = None,
        read_account_enabled: bool = False,
        mail_enabled_groups: bool = False,
        authority: Optional[str] = None,
        graph_url: Optional[str] = None,
        name: Optional[str] = None,
        cloud: Optional[GraphCloud] = None,
        scope: Optional[str] = None,
        advanced_query: bool = False,
        external_members: ExternalMembers = "sync",
        max_retry_after: Optional[float] = None,
    ) -> GraphSource: ...
    def read(self) -> DirectorySnapshot: ...
    def read_incremental(self, cursor: Optional[GraphCursor] = None) -> DeltaRead: ...

@final
class GraphCursor:
    @staticmethod
    def from_json(text: str) -> GraphCursor: ...
    def to_json(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def user_count(self) -> int: ...

@final
class DeltaRead:
    @property
    def snapshot(self) -> DirectorySnapshot: ...
    @property
    def cursor(self) -> GraphCursor: ...
    @property
    def round(self) -> Literal["initial", "incremental", "resynced", "unknown"]: ...
    @property
    def changed(self) -> Optional[int]: ...
    @property
    def removed(self) -> Optional[int]: ...
    @property
    def resync_status(self) -> Optional[int]: ...
    @property
    def resync_code(self) -> Optional[str]: ...

@final
class Emulator:
    @staticmethod
    def start(
        *,
        seed_json: Optional[str] = None,
        seed_path: Optional[_Path] = None,
        port: Optional[int] = None,
    ) -> Emulator: ...
    @property
    def url(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    def users(self, org: str) -> List[Dict[str, Any]]: ...
    def user(self, org: str, email: str) -> Optional[Dict[str, Any]]: ...
    def requests(self) -> List[Dict[str, Any]]: ...
    def count(self, method: str, route: str, status: int) -> int: ...
    def welcome_letters(self, email: str) -> int: ...
    def insert_user(self, org: str, user: Mapping[str, Any]) -> None: ...
    def clear_observations(self) -> None: ...
    def close(self) -> None: ...

def plan(
    users: Sequence[Mapping[str, Any]],
    directory: Optional[DirectorySnapshot] = None,
    hr: Optional[HrRecords] = None,
    **options: Unpack[PlanOptions],
) -> Plan: ...
def functional_accounts(
    users: Sequence[Mapping[str, Any]],
    hr: HrRecords,
    **options: Unpack[FunctionalAccountsOptions],
) -> Plan: ...
def show(path: _Path, format: ShowFormat = "text") -> str: ...
def approve(
    plan: Union[Plan, _Path],
    out: _Path,
    *,
    exclude: Optional[Sequence[str]] = None,
    only: Optional[Sequence[str]] = None,
    approval: Optional[_Path] = None,
    config: Optional[Config] = None,
) -> Approved: ...
