"""LDAP/AD and Entra ID sources from Python: the real test directory server
(scripts/ldap-up.sh, started by scripts/test.sh) and a local stand-in for
Microsoft Graph."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Iterator, List, Tuple
from urllib.parse import parse_qs, quote, urlparse

import pytest

import muster


def ldap_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f'{name} is not set: run `eval "$(scripts/ldap-up.sh)"` first (scripts/test.sh does)')
    return value


def add_people(unit: str) -> str:
    """Writes ou=<unit> with two AD users (one disabled shared mailbox) as the admin."""
    base = ldap_env("MUSTER_LDAP_BASE")
    ou = f"ou={unit},{base}"
    person = (
        "objectClass: user\nobjectClass: musterExchangeRecipient\ninstanceType: 4\n"
        "nTSecurityDescriptor: x\n"
        "objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com\n"
    )
    ldif = (
        f"dn: {ou}\nobjectClass: organizationalUnit\nou: {unit}\n\n"
        f"dn: cn=Ann Lee,{ou}\n{person}cn: Ann Lee\nsn: Lee\ngivenName: Ann\n"
        "proxyAddresses: SMTP:ann.lee@example.com\nproxyAddresses: smtp:ann@example.org\n"
        "userAccountControl: 512\nmsExchRecipientTypeDetails: 1\n\n"
        f"dn: cn=Support,{ou}\n{person}cn: Support\nsn: Support\nmail: support@example.com\n"
        "userAccountControl: 514\nmsExchRecipientTypeDetails: 4\n\n"
        f"dn: cn=Broken,{ou}\n{person}cn: Broken\nsn: Broken\nmail: broken at example.com\n"
    )
    url = ldap_env("MUSTER_LDAP_URL")
    admin = ["-x", "-H", url, "-D", ldap_env("MUSTER_LDAP_ADMIN_DN"), "-w", ldap_env("MUSTER_LDAP_ADMIN_PASSWORD")]
    # A leftover from an earlier run of this test goes first.
    subprocess.run(["ldapdelete", *admin, "-r", ou], capture_output=True, check=False)
    subprocess.run(["ldapadd", *admin], input=ldif.encode(), capture_output=True, check=True)
    return ou


def test_an_active_directory_reads_as_plain_data() -> None:
    ou = add_people("python")
    source = muster.LdapSource(
        ldap_env("MUSTER_LDAP_URL"),
        ou,
        bind_dn=ldap_env("MUSTER_LDAP_READER_DN"),
        password=ldap_env("MUSTER_LDAP_READER_PASSWORD"),
        filter="(objectClass=user)",
        name="ad",
    )
    assert ldap_env("MUSTER_LDAP_READER_PASSWORD") not in repr(source)
    snapshot = source.read()
    assert snapshot.source == "ad"
    entries = {e["primary_email"]: e for e in snapshot.entries}
    assert sorted(entries) == ["ann.lee@example.com", "support@example.com"]
    assert entries["ann.lee@example.com"]["aliases"] == ["ann@example.org"]
    assert entries["support@example.com"]["kind"] == "shared_mailbox"
    assert entries["support@example.com"]["enabled"] is False
    [issue] = snapshot.issues
    assert issue["location"] == f"dn `cn=Broken,{ou}`"
    assert issue["field"] == "mail"


def test_a_wrong_ldap_password_is_a_source_error_without_the_password() -> None:
    wrong = "not-the-reader-password-7"
    source = muster.LdapSource(
        ldap_env("MUSTER_LDAP_URL"),
        ldap_env("MUSTER_LDAP_BASE"),
        bind_dn=ldap_env("MUSTER_LDAP_READER_DN"),
        password=wrong,
    )
    with pytest.raises(muster.SourceError) as caught:
        source.read()
    assert "bind" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    # A retry would meet the same refusal.
    assert caught.value.retryable is False


def test_a_directory_that_cannot_be_reached_is_a_source_error_worth_retrying() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port just released: the connection is refused.
    source = muster.LdapSource(f"ldap://127.0.0.1:{port}", "DC=example,DC=com")
    with pytest.raises(muster.SourceError) as caught:
        source.read()
    assert caught.value.retryable is True


def test_bind_dn_and_password_go_together() -> None:
    with pytest.raises(ValueError):
        muster.LdapSource("ldaps://dc.example.com", "DC=example,DC=com", bind_dn="CN=svc")


class JsonHandler(BaseHTTPRequestHandler):
    """A local stand-in for Entra ID and Graph: JSON answers, no logging."""

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[JsonHandler]) -> Iterator[str]:
    """Runs `handler` on a free local port in a thread; yields its base URL."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


class FakeGraph(JsonHandler):
    """Answers the token request; one page of users (Ann, a guest, a service
    account without mail, an external B2B member); one mail-enabled group,
    Sales, whose transitive members are Ann (through a nested group without
    mail) and a device. Records what was asked."""

    seen: List[Tuple[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length", "0"))
        FakeGraph.seen.append(("POST " + self.path, self.rfile.read(length).decode()))
        self.answer(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok"})

    def do_GET(self) -> None:  # noqa: N802
        FakeGraph.seen.append(("GET " + self.path, self.headers.get("Authorization", "")))
        url = urlparse(self.path)
        if url.path == "/v1.0/groups":
            self.answer(200, {"value": [
                {"id": "g1", "displayName": "Sales", "mail": "sales@example.com",
                 "securityEnabled": False, "groupTypes": []},
            ]})
        elif url.path == "/v1.0/groups/g1/transitiveMembers":
            self.answer(200, {"value": [
                {"@odata.type": "#microsoft.graph.group", "id": "g2"},
                {"@odata.type": "#microsoft.graph.user", "id": "1"},
                {"@odata.type": "#microsoft.graph.device", "id": "d1"},
            ]})
        elif url.path == "/v1.0/users":
            self.answer(200, {"value": [
                {"id": "1", "mail": "ann@example.com", "givenName": "Ann", "surname": "Lee",
                 "accountEnabled": False, "userType": "Member",
                 "userPrincipalName": "ann@contoso.onmicrosoft.com"},
                {"id": "2", "mail": "guest@partner.example", "userType": "Guest",
                 "userPrincipalName": "guest_partner.example#EXT#@contoso.onmicrosoft.com"},
                {"id": "3", "mail": None, "userType": "Member",
                 "userPrincipalName": "svc@contoso.onmicrosoft.com"},
                {"id": "4", "mail": "lee@partner.example", "userType": "Member",
                 "userPrincipalName": "lee_partner.example#EXT#@contoso.onmicrosoft.com"},
            ]})
        else:
            self.answer(404, {"error": {"code": "notMocked", "message": url.path}})


@pytest.fixture
def graph() -> Iterator[str]:
    FakeGraph.seen = []
    yield from serve(FakeGraph)


def test_entra_id_users_read_through_graph(graph: str) -> None:
    secret = "graph-secret-never-shown"
    source = muster.GraphSource(
        "contoso.onmicrosoft.com", "app-id", secret, authority=graph, graph_url=f"{graph}/v1.0"
    )
    assert secret not in repr(source)
    snapshot = source.read()
    ann, lee = snapshot.entries
    assert ann["primary_email"] == "ann@example.com"
    assert lee["primary_email"] == "lee@partner.example", "an external member is synced by default"
    assert ann["enabled"] is True, "accountEnabled is not read by default"
    assert "enabled" not in snapshot.provided
    token_request, users_request = FakeGraph.seen
    assert token_request[0] == "POST /contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert "client_id=app-id" in token_request[1] and "grant_type=client_credentials" in token_request[1]
    # The token is asked for the Graph it is used with: its origin plus /.default.
    assert f"scope={quote(graph, safe='')}%2F.default" in token_request[1]
    assert users_request[0].startswith("GET /v1.0/users?")
    assert users_request[1] == "Bearer tok"

    disabled = muster.GraphSource(
        "contoso.onmicrosoft.com", "app-id", secret, authority=graph,
        graph_url=f"{graph}/v1.0", read_account_enabled=True,
    ).read()
    assert disabled.entries[0]["enabled"] is False
    assert "enabled" in disabled.provided


def test_entra_id_memberships_and_what_was_left_out_are_read(graph: str) -> None:
    snapshot = entra(graph, mail_enabled_groups=True).read()
    by_address = {e["primary_email"]: e for e in snapshot.entries}
    assert sorted(by_address) == ["ann@example.com", "lee@partner.example", "sales@example.com"]
    assert by_address["ann@example.com"]["member_of"] == ["Sales"], "through the group without mail"
    assert by_address["lee@partner.example"]["member_of"] == []
    assert by_address["sales@example.com"]["kind"] == "distribution_group"
    assert "groups" in snapshot.provided
    notes = {n["kind"]: n for n in snapshot.notes}
    assert sorted(notes) == ["external_members", "guests", "other_members", "without_mail"]
    assert (notes["guests"]["count"], notes["guests"]["examples"], notes["guests"]["kept"]) == (
        1, ["guest@partner.example"], False)
    assert notes["without_mail"]["examples"] == ["svc@contoso.onmicrosoft.com"]
    assert (notes["external_members"]["count"], notes["external_members"]["kept"]) == (1, True)
    assert notes["other_members"]["examples"] == ["device d1"]
    assert notes["guests"]["message"] == "1 guests left out (e.g. `guest@partner.example`)"
    assert snapshot.issues == [], "what is left out on purpose is not an issue"
    assert any(p.startswith("GET /v1.0/groups/g1/transitiveMembers?") for p, _ in FakeGraph.seen)

    skipped = entra(graph, external_members="skip").read()
    assert [e["primary_email"] for e in skipped.entries] == ["ann@example.com"]
    [external] = [n for n in skipped.notes if n["kind"] == "external_members"]
    assert (external["count"], external["kept"]) == (1, False)
    assert "groups" not in skipped.provided


def test_graph_options_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError, match="cloud: `mars` is not a valid Graph cloud; expected one of: global, us_government"):
        muster.GraphSource("t", "app", "s", cloud="mars")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="external_members: `maybe` is not a valid external-member policy; expected one of: sync, skip"):
        muster.GraphSource("t", "app", "s", external_members="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_retry_after"):
        muster.GraphSource("t", "app", "s", max_retry_after=-1)
    assert repr(muster.GraphSource("t", "app", "s", cloud="us_government", max_retry_after=60.5)) == 'GraphSource("t")'


def test_smtp_discovery_feeds_a_plan_as_a_supplemental_source(gw: muster.Gateway) -> None:
    now = "2026-11-20T12:00:00Z"
    ledger = muster.DiscoveryLedger()
    issues = ledger.observe(
        [
            {"address": "Erin@Example.com", "direction": "inbound", "messages": 4,
             "last_seen": "2026-11-18T09:00:00Z", "display_name": "Erin Moss"},
            {"address": "erin@example.com", "direction": "in", "messages": 3, "last_seen": "2026-11-19"},
            {"address": "noreply@example.com", "direction": "inbound", "messages": 90, "last_seen": "2026-11-19"},
            {"address": "rare@example.com", "direction": "inbound", "messages": 1, "last_seen": "2026-11-19"},
            {"address": "not an address", "direction": "inbound", "messages": 2, "last_seen": "2026-11-19"},
        ],
        now=now,
    )
    assert [i["location"] for i in issues] == ["record #4"]
    assert len(ledger) == 3, "Erin counted once, case aside"
    # The ledger survives a save and a load.
    ledger = muster.DiscoveryLedger.from_json(ledger.to_json())
    [erin] = ledger.candidates(["example.com"], now=now)
    assert erin["address"] == "erin@example.com", "the newest spelling is kept"
    assert erin["counted"] == 7

    discovered = ledger.snapshot(["example.com"], now=now)
    assert not discovered.complete, "an add-only source is never complete"
    plan = muster.plan(
        gw.list_users(),
        supplemental=[discovered],
        managed_domains=["example.com"],
        welcome_letters=False,
        now=now,
    )
    kinds = {c["email"].lower(): c["kind"] for c in plan.changes}
    assert kinds.get("erin@example.com") == "create", str(plan)
    assert "rare@example.com" not in kinds and "noreply@example.com" not in kinds
    assert not any(k in ("delete", "deactivate", "flag") for k in kinds.values()), str(plan)


def add_sales_group(ou: str) -> None:
    """Adds the mail-enabled distribution group Sales (AD's groupType 8) with Ann in it."""
    ldif = (
        f"dn: cn=Sales,{ou}\nobjectClass: group\ncn: Sales\ngroupType: 8\n"
        f"mail: sales@example.com\nmember: cn=Ann Lee,{ou}\ninstanceType: 4\n"
        "nTSecurityDescriptor: x\n"
        "objectCategory: CN=Group,CN=Schema,CN=Configuration,DC=example,DC=com\n"
    )
    admin = ["-x", "-H", ldap_env("MUSTER_LDAP_URL"), "-D", ldap_env("MUSTER_LDAP_ADMIN_DN"),
             "-w", ldap_env("MUSTER_LDAP_ADMIN_PASSWORD")]
    subprocess.run(["ldapadd", *admin], input=ldif.encode(), capture_output=True, check=True)


def reader(url: str, ou: str, **options: Any) -> muster.LdapSource:
    return muster.LdapSource(
        url,
        ou,
        bind_dn=ldap_env("MUSTER_LDAP_READER_DN"),
        password=ldap_env("MUSTER_LDAP_READER_PASSWORD"),
        filter="(objectClass=user)",
        **options,
    )


def test_ldaps_trusts_an_enterprise_ca_given_as_pem() -> None:
    ou = add_people("python-tls")
    ldaps = ldap_env("MUSTER_LDAP_LDAPS_URL")
    ca = Path(ldap_env("MUSTER_LDAP_CA_FILE"))
    # The test CA is no platform root: without it, a certificate error, never an empty directory.
    with pytest.raises(muster.SourceError, match="certificate"):
        reader(ldaps, ou).read()
    snapshot = reader(ldaps, ou, ca_pem=ca.read_bytes()).read()
    assert sorted(e["primary_email"] for e in snapshot.entries) == ["ann.lee@example.com", "support@example.com"]
    # Only the given CA, as text: still verified, still read.
    assert len(reader(ldaps, ou, ca_pem=ca.read_text(), platform_roots=False).read()) == 2
    with pytest.raises(muster.SourceError, match="certificate"):
        reader(ldaps, ou, platform_roots=False).read()


def test_a_ca_pem_without_a_usable_certificate_is_refused_at_once() -> None:
    url = "ldaps://dc.example.com"
    with pytest.raises(ValueError, match="BEGIN CERTIFICATE"):
        muster.LdapSource(url, "DC=example,DC=com", ca_pem=b"this is the CA, honest")
    with pytest.raises(ValueError, match="not a usable certificate"):
        muster.LdapSource(url, "DC=example,DC=com",
                          ca_pem=b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TypeError, match="ca_pem must be bytes or str"):
        muster.LdapSource(url, "DC=example,DC=com", ca_pem=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="objects must be"):
        muster.LdapSource(url, "DC=example,DC=com", objects="computers")  # type: ignore[arg-type]


def test_ldap_objects_reads_mail_enabled_groups_and_memberships() -> None:
    ou = add_people("python-groups")
    add_sales_group(ou)
    url = ldap_env("MUSTER_LDAP_URL")

    groups = reader(url, ou, objects="groups").read()
    [sales] = groups.entries
    assert sales["primary_email"] == "sales@example.com"
    assert sales["kind"] == "distribution_group"

    both = reader(url, ou, objects="both").read()
    entries = {e["primary_email"]: e for e in both.entries}
    assert sorted(entries) == ["ann.lee@example.com", "sales@example.com", "support@example.com"]
    assert entries["ann.lee@example.com"]["member_of"] == ["Sales"]
    assert "groups" in both.provided

    users = reader(url, ou).read()
    assert "sales@example.com" not in {e["primary_email"] for e in users.entries}
    assert "groups" not in users.provided


class FakeDeltaGraph(JsonHandler):
    """Entra ID through Graph's delta query. Round one (no state token):
    Ann and Bob; round two (`$deltatoken=one`): Bob deleted, Cy new; round
    three (`two`): the token has expired (410 resyncRequired). `/groups`:
    one mail-enabled distribution group. Records the delta tokens asked for.

    It answers from a Python thread: a Rust call that held the GIL would
    never get its answers."""

    tokens: List[str] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "tok"})

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        base = f"http://127.0.0.1:{self.server.server_port}/v1.0/users/delta"
        if url.path == "/v1.0/groups":
            self.answer(200, {"value": [
                {"id": "g1", "displayName": "Sales", "mail": "sales@example.com",
                 "securityEnabled": False, "groupTypes": []},
            ]})
            return
        if url.path == "/v1.0/groups/g1/transitiveMembers":
            self.answer(200, {"value": [{"@odata.type": "#microsoft.graph.user", "id": "1"}]})
            return
        if url.path != "/v1.0/users/delta":
            self.answer(404, {"error": {"code": "notMocked", "message": url.path}})
            return
        token = parse_qs(url.query).get("$deltatoken", ["from scratch"])[0]
        FakeDeltaGraph.tokens.append(token)
        if token == "from scratch":
            self.answer(200, {"@odata.deltaLink": f"{base}?$deltatoken=one", "value": [
                {"id": "1", "mail": "ann@example.com", "givenName": "Ann", "userType": "Member"},
                {"id": "2", "mail": "bob@example.com", "givenName": "Bob", "userType": "Member"},
            ]})
        elif token == "one":
            self.answer(200, {"@odata.deltaLink": f"{base}?$deltatoken=two", "value": [
                {"id": "2", "@removed": {"reason": "deleted"}},
                {"id": "3", "mail": "cy@example.com", "givenName": "Cy", "userType": "Member"},
            ]})
        else:
            self.answer(410, {"error": {"code": "resyncRequired", "message": "Resync required."}})


@pytest.fixture
def delta_graph() -> Iterator[str]:
    FakeDeltaGraph.tokens = []
    yield from serve(FakeDeltaGraph)


def entra(graph: str, tenant: str = "contoso.onmicrosoft.com", **options: Any) -> muster.GraphSource:
    return muster.GraphSource(tenant, "app-id", "secret", authority=graph, graph_url=f"{graph}/v1.0", **options)


def addresses(snapshot: muster.DirectorySnapshot) -> List[str]:
    return sorted(e["primary_email"] for e in snapshot.entries)


def test_entra_id_read_incrementally_with_a_saved_cursor(delta_graph: str) -> None:
    source = entra(delta_graph)
    first = source.read_incremental()
    assert first.round == "initial"
    assert (first.changed, first.removed, first.resync_status) == (None, None, None)
    assert addresses(first.snapshot) == ["ann@example.com", "bob@example.com"]
    assert first.cursor.tenant == "contoso.onmicrosoft.com" and first.cursor.user_count == 2

    # Saved between runs as JSON, loaded again: the next read continues from it.
    saved = muster.GraphCursor.from_json(first.cursor.to_json())
    second = source.read_incremental(saved)
    assert second.round == "incremental"
    assert (second.changed, second.removed) == (1, 1)
    assert addresses(second.snapshot) == ["ann@example.com", "cy@example.com"]
    assert FakeDeltaGraph.tokens == ["from scratch", "one"]

    # Graph has forgotten round two: every user is read again, and the round says so.
    third = source.read_incremental(second.cursor)
    assert third.round == "resynced"
    assert (third.resync_status, third.resync_code) == (410, "resyncRequired")
    assert addresses(third.snapshot) == ["ann@example.com", "bob@example.com"]
    assert FakeDeltaGraph.tokens == ["from scratch", "one", "two", "from scratch"]
    assert "one" in third.cursor.to_json()
    assert repr(third) == 'DeltaRead(round="resynced", entries=2)'


def test_a_cursor_that_does_not_fit_is_refused_before_any_request(delta_graph: str) -> None:
    cursor = entra(delta_graph).read_incremental().cursor
    asked = list(FakeDeltaGraph.tokens)
    with pytest.raises(muster.SourceError, match="made for tenant `contoso.onmicrosoft.com`"):
        entra(delta_graph, tenant="fabrikam.onmicrosoft.com").read_incremental(cursor)
    with pytest.raises(muster.SourceError, match=r"\$filter"):
        entra(delta_graph, filter="department eq 'Sales'").read_incremental(cursor)
    with pytest.raises(muster.SourceError, match="not a saved Graph cursor"):
        muster.GraphCursor.from_json(cursor.to_json()[:40])
    assert FakeDeltaGraph.tokens == asked


def test_mail_enabled_groups_are_read_with_every_round(delta_graph: str) -> None:
    source = entra(delta_graph, mail_enabled_groups=True)
    first = source.read_incremental()
    assert addresses(first.snapshot) == ["ann@example.com", "bob@example.com", "sales@example.com"]
    second = source.read_incremental(first.cursor)
    assert addresses(second.snapshot) == ["ann@example.com", "cy@example.com", "sales@example.com"]
    sales = next(e for e in second.snapshot.entries if e["primary_email"] == "sales@example.com")
    assert sales["kind"] == "distribution_group"
    ann = next(e for e in second.snapshot.entries if e["primary_email"] == "ann@example.com")
    assert ann["member_of"] == ["Sales"], "memberships are read on every round"
    assert addresses(entra(delta_graph).read_incremental().snapshot) == ["ann@example.com", "bob@example.com"]
