//! Incremental reads of the Graph source (`/users/delta`) against a local
//! mock of Entra ID and Microsoft Graph answering with responses shaped like
//! the real ones (`tests/fixtures/graph/delta_*.json`). Waits between
//! retries go through a recording [`Sleep`], so no test sleeps.
//!
//! The directory: a first round sees Ann, Bo, a service account without a
//! mailbox, Cy and a guest; the second round changes Ann's department and
//! clears her mobile (only those properties sent), deletes Bo, soft-deletes
//! Cy, gives the service account a mailbox (only `mail` and
//! `proxyAddresses` sent) and adds Dee. `users_final.json` is `/users` of
//! the directory after it.

mod graph_support;
mod support;
use graph_support::*;
use support::primaries;

use std::sync::Arc;

use muster_core::DirectorySnapshot;
use muster_directory::{DeltaRead, DeltaRound, Error, GraphCursor, GraphSource, Sleep};
use wiremock::matchers::{any, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The default selection (`accountEnabled` is not read unless asked).
const SELECT: &str = "id,mail,proxyAddresses,givenName,surname,mobilePhone,businessPhones,companyName,department,userType,userPrincipalName";
const DELTA: &str = "/v1.0/users/delta";
const ROUND_ONE: &str = "dT0k3n-round-one";
const ROUND_TWO: &str = "dT0k3n-round-two";
const AFTER_RESYNC: &str = "dT0k3n-after-resync";

/// A mock server that refuses anything not mocked (418: not retried) and
/// issues tokens.
async fn server() -> MockServer {
    let server = refusing_server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(200, fixture(&server, "token")))
        .mount(&server)
        .await;
    server
}

/// A delta request: the first of a round (`$select`, no state token), or
/// one carrying `token` as its `$skiptoken` or `$deltatoken`.
fn delta(token: Option<(&str, &str)>) -> wiremock::MockBuilder {
    let request = Mock::given(method("GET"))
        .and(path(DELTA))
        .and(wiremock::matchers::header(
            "authorization",
            bearer().as_str(),
        ));
    match token {
        None => request
            .and(query_param("$select", SELECT))
            .and(query_param_is_missing("$top"))
            .and(query_param_is_missing("$skiptoken"))
            .and(query_param_is_missing("$deltatoken")),
        Some((name, value)) => request.and(query_param(name, value)),
    }
}

/// The first round: two pages, ending with the delta link of round one.
async fn first_round(server: &MockServer) {
    delta(None)
        .respond_with(json(200, fixture(server, "delta_page1")))
        .expect(1)
        .mount(server)
        .await;
    delta(Some(("$skiptoken", "dSk1p-initial-page-two")))
        .respond_with(json(200, fixture(server, "delta_page2")))
        .expect(1)
        .mount(server)
        .await;
}

/// The second round's second page.
fn changes_page2() -> wiremock::MockBuilder {
    delta(Some(("$skiptoken", "dSk1p-changes-page-two")))
}

/// The second round: two pages of changes, ending with round two's link.
async fn second_round(server: &MockServer) {
    delta(Some(("$deltatoken", ROUND_ONE)))
        .respond_with(json(200, fixture(server, "delta_changes_page1")))
        .expect(1)
        .mount(server)
        .await;
    changes_page2()
        .respond_with(json(200, fixture(server, "delta_changes_page2")))
        .expect(1)
        .mount(server)
        .await;
}

fn source(server: &MockServer, waits: &Arc<Waits>) -> GraphSource {
    GraphSource::new(TENANT, CLIENT_ID, SECRET.into())
        .named("entra")
        .authority(&server.uri())
        .graph_url(&format!("{}/v1.0", server.uri()))
        .sleeper(Arc::clone(waits) as Arc<dyn Sleep>)
}

/// A full `/users` read of the directory after round two, on its own server.
async fn full_read_of_the_final_state() -> DirectorySnapshot {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$select", SELECT))
        .respond_with(json(200, fixture(&server, "users_final")))
        .expect(1)
        .mount(&server)
        .await;
    source(&server, &Arc::default()).read().await.unwrap()
}

/// Runs the first round and returns its read.
async fn run_first_round(server: &MockServer, waits: &Arc<Waits>) -> DeltaRead {
    first_round(server).await;
    source(server, waits).read_incremental(None).await.unwrap()
}

#[tokio::test]
async fn a_round_of_changes_gives_the_snapshot_a_full_read_of_the_final_state_gives() {
    let server = server().await;
    let waits = Arc::new(Waits::default());
    let first = run_first_round(&server, &waits).await;
    assert_eq!(first.round, DeltaRound::Initial);
    assert!(first.snapshot.is_complete());
    // In object-id order; the account without a mailbox and the guest are not recipients.
    assert_eq!(
        primaries(&first.snapshot),
        [
            "Ann.Lee@example.com",
            "bo.ray@example.com",
            "cy@example.com"
        ]
    );
    // Every user is remembered, recipients or not; the removal in the first round is not.
    assert_eq!(first.cursor.user_count(), 5);

    // The caller keeps the cursor as JSON between runs: no secret in it.
    let saved = first.cursor.to_json().unwrap();
    for secret in [SECRET, ACCESS_TOKEN] {
        assert!(!saved.contains(secret));
        assert!(!format!("{:?}", first.cursor).contains(secret));
    }
    assert!(!format!("{:?}", first.cursor).contains(ROUND_ONE));
    let cursor = GraphCursor::from_json(&saved).unwrap();

    second_round(&server).await;
    let second = source(&server, &waits)
        .read_incremental(Some(&cursor))
        .await
        .unwrap();
    assert_eq!(
        second.round,
        DeltaRound::Incremental {
            changed: 4,
            removed: 2
        }
    );
    assert_eq!(second.snapshot, full_read_of_the_final_state().await);
    assert_eq!(
        primaries(&second.snapshot),
        ["Ann.Lee@example.com", "svc@example.com", "dee@example.com"]
    );
    let ann = &second.snapshot.entries[0];
    // Sent: department and mobile. Kept: everything else.
    assert_eq!(ann.department.as_deref(), Some("Marketing"));
    assert_eq!(ann.mobile, None);
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.company.as_deref(), Some("Example Ltd"));
    assert_eq!(ann.aliases.len(), 1);
    // Only its mail was sent; its names come from the first round.
    let svc = &second.snapshot.entries[1];
    assert_eq!(svc.first_name.as_deref(), Some("Sync"));
    // Dee's national mobile number is an issue, as in a full read.
    assert_eq!(second.snapshot.issues.len(), 1);
    assert_eq!(
        second.snapshot.issues[0].field.as_deref(),
        Some("mobilePhone")
    );
    assert_eq!(second.cursor.user_count(), 4);
    assert!(waits.seconds().is_empty());

    // The next round continues from round two's link.
    delta(Some(("$deltatoken", ROUND_TWO)))
        .respond_with(json(
            200,
            format!(
                r#"{{"value":[],"@odata.deltaLink":"{}/v1.0/users/delta?$deltatoken=dT0k3n-round-three"}}"#,
                server.uri()
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let third = source(&server, &waits)
        .read_incremental(Some(&second.cursor))
        .await
        .unwrap();
    assert_eq!(
        third.round,
        DeltaRound::Incremental {
            changed: 0,
            removed: 0
        }
    );
    assert_eq!(
        third.snapshot, second.snapshot,
        "no changes, the same directory"
    );
}

#[tokio::test]
async fn an_expired_delta_token_is_a_full_resync_never_an_empty_directory() {
    let server = server().await;
    let waits = Arc::new(Waits::default());
    let first = run_first_round(&server, &waits).await;
    // Graph forgot round one's state; the first round's request now meets the final directory.
    server.reset().await;
    let server_uri = server.uri();
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("not mocked"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(200, fixture(&server, "token")))
        .expect(1)
        .mount(&server)
        .await;
    delta(Some(("$deltatoken", ROUND_ONE)))
        .respond_with(
            json(410, fixture(&server, "error_resync_required")).insert_header(
                "Location",
                format!("{server_uri}{DELTA}?$deltatoken=").as_str(),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    delta(None)
        .respond_with(json(200, fixture(&server, "delta_final")))
        .expect(1)
        .mount(&server)
        .await;

    let read = source(&server, &waits)
        .read_incremental(Some(&first.cursor))
        .await
        .unwrap();
    assert_eq!(
        read.round,
        DeltaRound::Resynced {
            status: Some(410),
            code: Some("resyncRequired".to_owned())
        }
    );
    assert!(read.snapshot.is_complete());
    assert_eq!(read.snapshot, full_read_of_the_final_state().await);
    // Nothing of the forgotten round survives: Bo and Cy are gone because
    // the full enumeration no longer lists them, not because of a merge.
    assert_eq!(read.cursor.user_count(), 4);
    assert!(!read.cursor.to_json().unwrap().contains(ROUND_ONE));
    assert!(read.cursor.to_json().unwrap().contains(AFTER_RESYNC));
}

#[tokio::test]
async fn a_failing_page_of_a_round_is_an_error_and_the_old_cursor_still_works() {
    let server = server().await;
    let waits = Arc::new(Waits::default());
    let first = run_first_round(&server, &waits).await;
    let kept = first.cursor.clone();

    delta(Some(("$deltatoken", ROUND_ONE)))
        .respond_with(json(200, fixture(&server, "delta_changes_page1")))
        .expect(2)
        .mount(&server)
        .await;
    changes_page2()
        .respond_with(json(503, fixture(&server, "error_unavailable")))
        .up_to_n_times(3)
        .expect(3)
        .with_priority(1)
        .mount(&server)
        .await;
    let err = source(&server, &waits)
        .max_retries(2)
        .read_incremental(Some(&first.cursor))
        .await
        .unwrap_err();
    assert_page_unavailable(&err, 2);
    assert!(err.is_directory_unavailable());
    let text = format!("{err} {err:?}");
    for secret in [SECRET, ACCESS_TOKEN, ROUND_ONE, "dSk1p-changes-page-two"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(first.cursor, kept, "the caller's cursor is untouched");
    assert_eq!(waits.seconds().len(), 2);

    // Once Graph answers again, the same cursor reads the whole round.
    changes_page2()
        .respond_with(json(200, fixture(&server, "delta_changes_page2")))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let read = source(&server, &waits)
        .read_incremental(Some(&kept))
        .await
        .unwrap();
    assert_eq!(read.snapshot, full_read_of_the_final_state().await);
}

#[tokio::test]
async fn a_first_round_that_fails_or_never_ends_is_an_error_not_a_shorter_directory() {
    let server = server().await;
    delta(None)
        .respond_with(json(200, fixture(&server, "delta_page1")))
        .expect(2)
        .mount(&server)
        .await;
    // A 410 in a first round is a failure like any other: there is nothing to resync from.
    delta(Some(("$skiptoken", "dSk1p-initial-page-two")))
        .respond_with(json(410, fixture(&server, "error_resync_required")))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let err = source(&server, &Arc::default())
        .read_incremental(None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Graph {
                page: 2,
                status: Some(410),
                ..
            }
        ),
        "{err:?}"
    );
    // The last page has neither a next link nor a delta link.
    delta(Some(("$skiptoken", "dSk1p-initial-page-two")))
        .respond_with(json(200, r#"{"value":[]}"#.to_owned()))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let err = source(&server, &Arc::default())
        .read_incremental(None)
        .await
        .unwrap_err();
    match err {
        Error::Graph { page, message, .. } => {
            assert_eq!(page, 2);
            assert!(message.unwrap().contains("deltaLink"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_cursor_made_for_another_tenant_selection_or_endpoint_is_refused_before_any_request() {
    let server = server().await;
    let first = run_first_round(&server, &Arc::default()).await;
    // From here on, any request would be answered 418 and fail differently.
    server.reset().await;

    let refused = |err: Error, what: &str| match err {
        Error::GraphCursor { reason, .. } => {
            assert!(reason.contains(what), "{reason}");
            assert!(!reason.contains(ROUND_ONE));
        }
        other => panic!("expected the cursor to be refused, got {other:?}"),
    };
    let other_tenant = GraphSource::new("fabrikam.onmicrosoft.com", CLIENT_ID, SECRET.into())
        .authority(&server.uri())
        .graph_url(&format!("{}/v1.0", server.uri()));
    refused(
        other_tenant
            .read_incremental(Some(&first.cursor))
            .await
            .unwrap_err(),
        "tenant `contoso.onmicrosoft.com`",
    );
    let more_selected = source(&server, &Arc::default()).read_account_enabled();
    refused(
        more_selected
            .read_incremental(Some(&first.cursor))
            .await
            .unwrap_err(),
        "$select",
    );
    let filtered = source(&server, &Arc::default()).require("department", "Sales");
    refused(
        filtered.read_incremental(None).await.unwrap_err(),
        "$filter",
    );
    // An advanced filter (detected or asked for) is still a filter delta cannot apply.
    for advanced in [
        source(&server, &Arc::default()).filter("userType ne 'Guest'"),
        source(&server, &Arc::default()).advanced_query(),
    ] {
        refused(
            advanced.read_incremental(None).await.unwrap_err(),
            "$filter",
        );
    }
    // A saved cursor whose link was changed to point elsewhere never gets the token.
    let moved = first
        .cursor
        .to_json()
        .unwrap()
        .replace(&server.uri(), "https://graph.example.net");
    let moved = GraphCursor::from_json(&moved).unwrap();
    refused(
        source(&server, &Arc::default())
            .read_incremental(Some(&moved))
            .await
            .unwrap_err(),
        "graph.example.net",
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "refused before any request"
    );
    let garbage = GraphCursor::from_json(r#"{"version":1}"#).unwrap_err();
    assert!(matches!(garbage, Error::GraphCursor { .. }), "{garbage:?}");
}

#[tokio::test]
async fn mail_enabled_groups_are_read_in_full_on_every_round() {
    let server = server().await;
    let waits = Arc::new(Waits::default());
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$filter", "mailEnabled eq true"))
        .respond_with(json(
            200,
            r#"{"value":[{"id":"a1b2c3d4-1111-4aaa-8bbb-000000000001","displayName":"Sales Team","mail":"sales@example.com","proxyAddresses":["SMTP:sales@example.com"],"securityEnabled":false,"groupTypes":[]}]}"#.to_owned(),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups/a1b2c3d4-1111-4aaa-8bbb-000000000001/transitiveMembers"))
        .and(query_param("$select", "id"))
        .respond_with(json(
            200,
            r##"{"value":[{"@odata.type":"#microsoft.graph.user","id":"2d7e5f3a-1b4c-4d6e-8f90-a1b2c3d4e5f6"}]}"##.to_owned(),
        ))
        .expect(2)
        .mount(&server)
        .await;
    first_round(&server).await;
    let with_groups = source(&server, &waits).mail_enabled_groups();
    let first = with_groups.read_incremental(None).await.unwrap();
    second_round(&server).await;
    let second = with_groups
        .read_incremental(Some(&first.cursor))
        .await
        .unwrap();
    for read in [&first, &second] {
        let groups: Vec<_> = read
            .snapshot
            .entries
            .iter()
            .filter(|e| e.kind != muster_core::RecipientKind::UserMailbox)
            .collect();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].primary_email.as_str(), "sales@example.com");
        assert_eq!(
            groups[0].kind,
            muster_core::RecipientKind::DistributionGroup
        );
        // Memberships too, on every round.
        let ann = read
            .snapshot
            .entries
            .iter()
            .find(|e| {
                e.primary_email
                    .as_str()
                    .eq_ignore_ascii_case("ann.lee@example.com")
            })
            .unwrap();
        assert_eq!(ann.member_of.iter().collect::<Vec<_>>(), ["Sales Team"]);
        assert!(read.snapshot.provided.contains(muster_core::Field::Groups));
    }
    // The cursor holds users only: the groups are not in it.
    assert_eq!(second.cursor.user_count(), 4);
}
