//! The Graph source against a local mock of Entra ID's token endpoint and
//! Microsoft Graph, answering with responses shaped like the real ones
//! (`tests/fixtures/graph/`). Waits between retries go through a recording
//! [`Sleep`], so no test sleeps.

mod graph_support;
mod support;
use graph_support::*;
use support::capture_trace;

use std::sync::Arc;
use std::time::Duration;

use muster_core::{Field, FieldSet, Location, NoteKind, RecipientKind};
use muster_directory::{
    DirectorySource, Error, ExternalMembers, GraphCloud, GraphSource, GuestPolicy, Sleep,
};
use reqwest::Url;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SELECT: &str = "id,mail,proxyAddresses,givenName,surname,mobilePhone,businessPhones,companyName,department,accountEnabled,userType,userPrincipalName";
const SKIP_2: &str = "RFNwdAIAAQAAACpBbm4uTGVlQGV4YW1wbGUuY29t";
const SKIP_3: &str = "RFNwdAIAAQAAACpCby5SYXlAZXhhbXBsZS5jb20";

/// The token request's form fields, in order.
fn form(request: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8(request.body.clone()).unwrap();
    Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A token request for the right client credentials and exactly `scope`.
fn token_request(scope: &str) -> wiremock::MockBuilder {
    let expected = [
        ("client_id", CLIENT_ID),
        ("scope", scope),
        ("client_secret", SECRET),
        ("grant_type", "client_credentials"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(move |request: &Request| form(request) == expected)
}

/// A mock server that answers anything not mocked with a readable refusal
/// (418: not retried), and issues tokens for the right client credentials
/// and the scope of the Graph it stands in for: its own origin plus
/// `/.default`, as a national cloud's Entra ID issues them only for its own Graph.
async fn server_with_token(expected_tokens: u64) -> MockServer {
    let server = refusing_server().await;
    token_request(&format!("{}/.default", server.uri()))
        .respond_with(json(200, fixture(&server, "token")))
        .expect(expected_tokens)
        .mount(&server)
        .await;
    server
}

/// Each national cloud's token is asked for its own Graph. The mock stands
/// in for the cloud's Entra ID (the authority is pointed at it; Graph stays
/// the cloud's and is never reached): it answers only the exact scope, as
/// Entra ID does when the app is unknown there, so the refusal proves the
/// request, and the catch-all proves nothing else was sent.
#[tokio::test]
async fn national_clouds_ask_for_a_token_for_their_own_graph() {
    for (cloud, scope) in [
        (
            GraphCloud::UsGovernment,
            "https://graph.microsoft.us/.default",
        ),
        (
            GraphCloud::UsGovernmentDod,
            "https://dod-graph.microsoft.us/.default",
        ),
        (
            GraphCloud::China,
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
        (GraphCloud::Global, "https://graph.microsoft.com/.default"),
    ] {
        let server = refusing_server().await;
        token_request(scope)
            .respond_with(json(
                400,
                r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier '8f0e2d4c-0000-4000-8000-000000000001' was not found in the directory 'contoso.onmicrosoft.com'.","error_codes":[700016]}"#.to_owned(),
            ))
            .expect(1)
            .mount(&server)
            .await;
        let waits = Arc::new(Waits::default());
        let err = GraphSource::new(TENANT, CLIENT_ID, SECRET.into())
            .cloud(cloud)
            .authority(&server.uri())
            .sleeper(Arc::clone(&waits) as Arc<dyn Sleep>)
            .fetch()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::GraphToken { status: Some(400), code: Some(c), .. } if c == "unauthorized_client"),
            "{cloud:?}: {err:?}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{cloud:?}"
        );
    }
}

#[test]
fn each_cloud_has_its_own_authority_and_graph() {
    let urls = |c: GraphCloud| (c.authority(), c.graph_url());
    assert_eq!(
        urls(GraphCloud::default()),
        (
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com/v1.0"
        )
    );
    assert_eq!(
        urls(GraphCloud::UsGovernment),
        (
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us/v1.0"
        )
    );
    assert_eq!(
        urls(GraphCloud::UsGovernmentDod),
        (
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us/v1.0"
        )
    );
    assert_eq!(
        urls(GraphCloud::China),
        (
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn/v1.0"
        )
    );
}

/// A deployment behind something else: the scope given is sent as it is.
#[tokio::test]
async fn an_explicit_scope_is_asked_for_as_given() {
    let server = refusing_server().await;
    token_request("https://graph.microsoft.us/.default")
        .respond_with(json(200, fixture(&server, "token")))
        .expect(1)
        .mount(&server)
        .await;
    first_page()
        .respond_with(json(200, fixture(&server, "users_page3")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .scope("https://graph.microsoft.us/.default")
        .fetch()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 1);
}

#[tokio::test]
async fn a_scope_the_client_credentials_flow_refuses_is_never_asked_for() {
    let server = refusing_server().await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .scope("User.Read.All")
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`entra`: User.Read.All: an app-only token's scope ends in /.default"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The first page's request: `$select` exactly the mapped properties, `$top=999`.
fn first_page() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(header("authorization", bearer().as_str()))
        .and(query_param("$select", SELECT))
        .and(query_param("$top", "999"))
        .and(query_param_is_missing("$skiptoken"))
}

/// A next page's request: the whole next link, with its skip token.
fn page(skiptoken: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(header("authorization", bearer().as_str()))
        .and(query_param("$select", SELECT))
        .and(query_param("$top", "999"))
        .and(query_param("$skiptoken", skiptoken))
}

fn source(server: &MockServer, waits: &Arc<Waits>) -> GraphSource {
    default_source(server, waits).read_account_enabled()
}

/// The source with the defaults (`accountEnabled` not read), pointed at `server`.
fn default_source(server: &MockServer, waits: &Arc<Waits>) -> GraphSource {
    GraphSource::new(TENANT, CLIENT_ID, SECRET.into())
        .named("entra")
        .authority(&server.uri())
        .graph_url(&format!("{}/v1.0", server.uri()))
        .sleeper(Arc::clone(waits) as Arc<dyn Sleep>)
}

async fn three_pages(server: &MockServer) {
    first_page()
        .respond_with(json(200, fixture(server, "users_page1")))
        .expect(1)
        .mount(server)
        .await;
    page(SKIP_2)
        .respond_with(json(200, fixture(server, "users_page2")))
        .expect(1)
        .with_priority(3)
        .mount(server)
        .await;
    page(SKIP_3)
        .respond_with(json(200, fixture(server, "users_page3")))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn three_pages_are_read_to_the_end_into_exact_entries_issues_and_fields() {
    let server = server_with_token(1).await;
    three_pages(&server).await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits).fetch().await.unwrap();

    assert_eq!(snapshot.source, "entra");
    assert!(snapshot.is_complete());
    let provided = [
        Field::Aliases,
        Field::FirstName,
        Field::LastName,
        Field::Mobile,
        Field::Phone,
        Field::Company,
        Field::Department,
        Field::Enabled,
        Field::ExternalId,
    ]
    .into_iter()
    .fold(FieldSet::empty(), FieldSet::with);
    assert_eq!(snapshot.provided, provided);

    // The service account without a mailbox and the guest are not recipients.
    let summary: Vec<_> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                e.enabled,
            )
        })
        .collect();
    // In object-id order, whatever order the pages came in.
    assert_eq!(
        summary,
        [
            ("ann@example.org", vec![], true),
            ("cy@example.com", vec![], true),
            // ann@example.org went to Ann Twin, whose primary it is.
            (
                "Ann.Lee@example.com",
                vec!["ann.lee@contoso.onmicrosoft.com"],
                true
            ),
            ("bo.ray@example.com", vec!["bo@example.com"], false),
        ]
    );
    let by_primary = |primary: &str| {
        snapshot
            .entries
            .iter()
            .find(|e| e.primary_email.as_str() == primary)
            .unwrap()
    };
    let ann = by_primary("Ann.Lee@example.com");
    assert_eq!(ann.first_name.as_deref(), Some("Ann"));
    assert_eq!(ann.last_name.as_deref(), Some("Lee"));
    assert_eq!(ann.mobile.as_deref(), Some("+447700900123"));
    assert_eq!(ann.phone.as_deref(), Some("+44 20 7946 0000"));
    assert_eq!(ann.company.as_deref(), Some("Example Ltd"));
    assert_eq!(ann.department.as_deref(), Some("Sales"));
    assert_eq!(ann.kind, RecipientKind::UserMailbox);
    assert_eq!(
        ann.external_id.as_ref().unwrap().as_str(),
        "6e7b768e-07e2-4810-8459-485f84f8f204"
    );
    assert_eq!(
        ann.location,
        Some(Location::object_id("6e7b768e-07e2-4810-8459-485f84f8f204"))
    );
    let bo = by_primary("bo.ray@example.com");
    assert_eq!(bo.mobile, None, "a national number is an issue");
    let cy = by_primary("cy@example.com");
    assert_eq!(cy.phone.as_deref(), Some("+1 425 555 0100"));
    assert_eq!(cy.last_name, None);

    let issues: Vec<_> = snapshot
        .issues
        .iter()
        .map(|i| {
            (
                i.location.clone(),
                i.field.as_deref(),
                i.value.as_deref(),
                i.related.clone(),
            )
        })
        .collect();
    let at = Location::object_id;
    assert_eq!(
        issues,
        [
            (
                at("6e7b768e-07e2-4810-8459-485f84f8f204"),
                Some("alias"),
                Some("ann@example.org"),
                Some(at("0f9e8d7c-6b5a-4948-8372-615049382716")),
            ),
            (
                at("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"),
                Some("mail"),
                Some("not an address"),
                None,
            ),
            (
                at("c0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b"),
                Some("proxyAddresses"),
                Some("bo.ray@example.com, bo@example.com"),
                None,
            ),
            (
                at("c0a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b"),
                Some("mobilePhone"),
                Some("07700 900456"),
                None,
            ),
        ],
        "{:#?}",
        snapshot.issues
    );
    // The guest and the service account are counted, not silently dropped.
    let notes: Vec<_> = snapshot.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "1 guests left out (e.g. `pat@partner.example`)",
            "1 users without an address left out (e.g. `svc-sync@contoso.onmicrosoft.com`)",
        ]
    );
    assert!(waits.seconds().is_empty());
}

/// What is left out on purpose is counted, one note per kind, with a few
/// names made safe to print; external members are synced by default and
/// counted all the same.
#[tokio::test]
async fn guests_users_without_mail_and_external_members_are_counted_in_the_snapshot() {
    for external in [ExternalMembers::Sync, ExternalMembers::Skip] {
        let server = server_with_token(1).await;
        first_page()
            .respond_with(json(200, fixture(&server, "users_skips")))
            .expect(1)
            .mount(&server)
            .await;
        let waits = Arc::new(Waits::default());
        let snapshot = source(&server, &waits)
            .external_members(external)
            .fetch()
            .await
            .unwrap();
        let notes: Vec<_> = snapshot
            .notes
            .iter()
            .map(|n| (n.kind, n.count, n.kept, n.examples.clone()))
            .collect();
        let synced = external == ExternalMembers::Sync;
        assert_eq!(
            notes,
            [
                (
                    NoteKind::Guests,
                    2,
                    false,
                    // The bidi override is escaped, never printed.
                    vec![
                        r"frank\u{202e}@vendor.example".to_owned(),
                        "pat@partner.example".to_owned()
                    ]
                ),
                (
                    NoteKind::WithoutMail,
                    1,
                    false,
                    vec!["svc-backup@contoso.onmicrosoft.com".to_owned()]
                ),
                (
                    NoteKind::ExternalMembers,
                    1,
                    synced,
                    vec!["lee@partner.example".to_owned()]
                ),
            ],
            "{external:?}"
        );
        let expected: &[&str] = if synced {
            &["lee@partner.example", "Ann.Lee@example.com"]
        } else {
            &["Ann.Lee@example.com"]
        };
        assert_eq!(support::primaries(&snapshot), expected);
        assert!(
            snapshot.issues.is_empty(),
            "skips are not issues: {:?}",
            snapshot.issues
        );
        assert_eq!(
            snapshot.notes[0].to_string(),
            r"2 guests left out (e.g. `frank\u{202e}@vendor.example`, `pat@partner.example`)"
        );
    }
}

/// And the trace (the CLI's `MUSTER_LOG`) shows each attempt with its
/// status and wait, by path only: no query (skip tokens), token or secret.
#[tokio::test]
async fn a_throttled_page_waits_as_retry_after_asks_then_goes_on() {
    let (trace, _guard) = capture_trace();
    let server = server_with_token(1).await;
    three_pages(&server).await;
    page(SKIP_2)
        .respond_with(
            json(429, fixture(&server, "error_throttled")).insert_header("Retry-After", "7"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    page(SKIP_2)
        .respond_with(
            json(503, fixture(&server, "error_unavailable")).insert_header("Retry-After", "2"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits).fetch().await.unwrap();
    assert_eq!(waits.seconds(), [7, 2]);
    assert_eq!(snapshot.entries.len(), 4, "every page still read");
    let trace = trace.text();
    let requests: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("graph.request") && l.contains("close"))
        .collect();
    assert_eq!(
        requests.len(),
        6,
        "a token, three pages, two retries:\n{trace}"
    );
    assert!(
        requests[0].contains(&format!("method=POST path={TOKEN_PATH}")),
        "{trace}"
    );
    let throttled = requests
        .iter()
        .find(|l| l.contains("status=429"))
        .unwrap_or_else(|| panic!("no throttled attempt:\n{trace}"));
    assert!(
        throttled.contains("path=/v1.0/users attempt=1") && throttled.contains("wait_ms=7000"),
        "{throttled}"
    );
    for secret in [SECRET, ACCESS_TOKEN, SKIP_2] {
        assert!(!trace.contains(secret), "{secret} in the trace:\n{trace}");
    }
}

/// A wait up to the cap is waited in full; one beyond it ends the read at
/// once, with an error that says what Graph asked for and what the cap is.
#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_read_with_an_error_that_says_so() {
    let server = server_with_token(1).await;
    first_page()
        .respond_with(json(200, fixture(&server, "users_page1")))
        .expect(1)
        .mount(&server)
        .await;
    page(SKIP_2)
        .respond_with(
            json(429, fixture(&server, "error_throttled")).insert_header("Retry-After", "120"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    page(SKIP_2)
        .respond_with(
            json(429, fixture(&server, "error_throttled")).insert_header("Retry-After", "3600"),
        )
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .max_retry_after(Duration::from_secs(600))
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        waits.seconds(),
        [120],
        "within the cap: waited in full, not shortened"
    );
    assert!(
        matches!(
            &err,
            Error::Graph {
                page: 2,
                status: Some(429),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "`entra`: cannot read page 2 of {}/v1.0/users (HTTP 429 TooManyRequests: \
             Graph asked to wait 3600 s before a retry, more than the 600 s allowed)",
            server.uri()
        )
    );
    assert!(err.is_directory_unavailable());
}

/// The default cap is five minutes, and the token endpoint has it too.
#[tokio::test]
async fn the_default_cap_is_five_minutes_on_the_token_endpoint_too() {
    let server = refusing_server().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "301"))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits).fetch().await.unwrap_err();
    assert!(waits.seconds().is_empty());
    assert!(
        err.to_string().ends_with(
            "(HTTP 429: Graph asked to wait 301 s before a retry, more than the 300 s allowed)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_page_that_keeps_failing_is_an_error_not_a_shorter_directory() {
    let server = server_with_token(1).await;
    first_page()
        .respond_with(json(200, fixture(&server, "users_page1")))
        .expect(1)
        .mount(&server)
        .await;
    page(SKIP_2)
        .respond_with(json(503, fixture(&server, "error_unavailable")))
        .expect(4)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .max_retries(3)
        .fetch()
        .await
        .unwrap_err();
    // No Retry-After: our own doubling backoff, with jitter.
    waits.assert_own_backoff(3);
    assert!(err.is_directory_unavailable());
    assert_page_unavailable(&err, 2);
    assert_eq!(
        err.to_string(),
        format!(
            "`entra`: cannot read page 2 of {}/v1.0/users (HTTP 503 serviceNotAvailable: \
             The service is temporarily unavailable for maintenance or is overloaded.)",
            server.uri()
        )
    );
}

/// The retry budget (muster's one retry policy) bounds the retries of the
/// whole source, not of one request: a budget that pays one retry gets a
/// failing Graph two requests, however many retries are allowed.
#[tokio::test]
async fn a_spent_retry_budget_ends_the_retries_before_the_schedule_does() {
    let server = server_with_token(1).await;
    first_page()
        .respond_with(json(503, fixture(&server, "error_unavailable")))
        .expect(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let budget = Arc::new(muster_core::retry::RetryBudget::new(
        muster_core::retry::RETRY_COST,
    ));
    let err = source(&server, &waits)
        .retry_budget(Arc::clone(&budget))
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(waits.seconds().len(), 1);
    assert_eq!(budget.available(), 0);
    assert_page_unavailable(&err, 1);
}

#[tokio::test]
async fn a_refused_token_is_an_error_that_never_shows_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(json(401, fixture(&server, "token_invalid_client")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits).fetch().await.unwrap_err();
    assert!(err.is_directory_unavailable());
    assert!(waits.seconds().is_empty(), "a refusal is not retried");
    let Error::GraphToken {
        tenant,
        status,
        code,
        ..
    } = &err
    else {
        panic!("expected a token error, got {err:?}");
    };
    assert_eq!(tenant, TENANT);
    assert_eq!(*status, Some(401));
    assert_eq!(code.as_deref(), Some("invalid_client"));
    let display = err.to_string();
    assert!(
        display.starts_with(
            "`entra`: no Graph token for tenant `contoso.onmicrosoft.com` (HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided."
        ),
        "{display}"
    );
    for shown in [
        display,
        format!("{err:?}"),
        format!("{:?}", source(&server, &waits)),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_retried_then_an_error() {
    // A port nothing listens on: connection refused, every time.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let waits = Arc::new(Waits::default());
    let err = GraphSource::new(TENANT, CLIENT_ID, SECRET.into())
        .authority(&url)
        .graph_url(&url)
        .max_retries(2)
        .sleeper(Arc::clone(&waits) as Arc<dyn Sleep>)
        .fetch()
        .await
        .unwrap_err();
    waits.assert_own_backoff(2);
    assert!(matches!(
        &err,
        Error::GraphToken {
            status: None,
            source: Some(_),
            ..
        }
    ));
    assert!(!format!("{err:?}").contains(SECRET));
}

#[tokio::test]
async fn a_custom_filter_is_sent_with_its_values_escaped() {
    let server = server_with_token(1).await;
    first_page()
        .and(query_param(
            "$filter",
            "(accountEnabled eq true) and companyName eq 'O''Brien & Sons'",
        ))
        .respond_with(json(200, fixture(&server, "users_page3")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .filter("accountEnabled eq true")
        .require("companyName", "O'Brien & Sons")
        .fetch()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 1);
}

/// Refused even as an advanced query (`endsWith` is detected): an error at
/// once, naming Microsoft's page on advanced queries.
#[tokio::test]
async fn a_filter_graph_refuses_is_an_error_at_once_that_names_the_doc_page() {
    let server = server_with_token(1).await;
    first_page()
        .and(header("ConsistencyLevel", "eventual"))
        .and(query_param("$count", "true"))
        .respond_with(json(400, fixture(&server, "error_bad_filter")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .filter("endsWith(companyName,'Ltd')")
        .fetch()
        .await
        .unwrap_err();
    assert!(waits.seconds().is_empty());
    assert!(
        matches!(&err, Error::Graph { status: Some(400), code: Some(c), .. } if c == "Request_UnsupportedQuery"),
        "{err:?}"
    );
    assert!(
        err.to_string().ends_with(
            "Unsupported or invalid query filter clause specified for property 'companyName' of resource 'User'.; \
             Graph refused the filter even as an advanced query: see https://learn.microsoft.com/graph/aad-advanced-queries)"
        ),
        "{err}"
    );
}

/// Sent as a plain query and refused: the error says an advanced query may help.
#[tokio::test]
async fn a_plain_filter_graph_refuses_points_at_advanced_queries() {
    let server = server_with_token(1).await;
    first_page()
        .and(query_param("$filter", "showInAddressList eq true"))
        .and(query_param_is_missing("$count"))
        .respond_with(json(400, fixture(&server, "error_bad_filter")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .filter("showInAddressList eq true")
        .fetch()
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("need an advanced query (advanced_query): see https://learn.microsoft.com/graph/aad-advanced-queries"),
        "{shown}"
    );
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("consistencylevel"))
    );
}

/// `userType ne 'Guest'` needs an advanced query: the header and `$count`
/// are sent without being asked for, the header on every page.
#[tokio::test]
async fn a_filter_with_ne_is_sent_as_an_advanced_query_on_every_page() {
    let server = server_with_token(1).await;
    first_page()
        .and(query_param("$filter", "userType ne 'Guest'"))
        .and(header("ConsistencyLevel", "eventual"))
        .and(query_param("$count", "true"))
        .respond_with(json(200, fixture(&server, "users_page2")))
        .expect(1)
        .mount(&server)
        .await;
    page(SKIP_3)
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(json(200, fixture(&server, "users_page3")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .filter("userType ne 'Guest'")
        .fetch()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 3);
}

#[tokio::test]
async fn advanced_queries_send_consistency_level_on_every_page() {
    let server = server_with_token(1).await;
    first_page()
        .and(header("ConsistencyLevel", "eventual"))
        .and(query_param("$count", "true"))
        .respond_with(json(200, fixture(&server, "users_page2")))
        .expect(1)
        .mount(&server)
        .await;
    page(SKIP_3)
        .and(header("ConsistencyLevel", "eventual"))
        .respond_with(json(200, fixture(&server, "users_page3")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .advanced_query()
        .fetch()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 3);
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_page_read_again() {
    let server = server_with_token(2).await;
    three_pages(&server).await;
    page(SKIP_2)
        .respond_with(json(
            401,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#
                .to_owned(),
        ))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits).fetch().await.unwrap();
    assert_eq!(snapshot.entries.len(), 4);
    assert!(waits.seconds().is_empty());
}

#[tokio::test]
async fn a_refusal_for_missing_consent_is_final_at_once() {
    let server = server_with_token(1).await;
    first_page()
        .respond_with(json(
            403,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#
                .to_owned(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits).fetch().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Graph {
                status: Some(403),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(waits.seconds().is_empty());
}

#[tokio::test]
async fn a_page_refused_again_with_a_new_token_is_an_error() {
    // Only 401 asks for a new token, and only once per page.
    let server = server_with_token(2).await;
    Mock::given(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits).fetch().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Graph {
                status: Some(401),
                page: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn answers_that_are_not_pages_are_errors_never_empty_directories() {
    for (body, expected) in [
        ("{}", "the answer is not a page of users"),
        (
            r#"{"value":[{"id":"1","mail":"a@example.com"}"#,
            "the answer is not a page of users",
        ),
        (
            r#"{"value":[],"@odata.nextLink":"https://graph.example.net/v1.0/users?$skiptoken=x"}"#,
            "the next page link points to https://graph.example.net",
        ),
    ] {
        let server = server_with_token(1).await;
        first_page()
            .respond_with(json(200, body.to_owned()))
            .expect(1)
            .mount(&server)
            .await;
        let waits = Arc::new(Waits::default());
        let err = source(&server, &waits).fetch().await.unwrap_err();
        match &err {
            Error::Graph {
                page: 1,
                message: Some(m),
                ..
            } => assert!(m.starts_with(expected), "{m}"),
            other => panic!("{body}: expected a Graph error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_next_link_that_repeats_the_page_is_an_error() {
    let server = server_with_token(1).await;
    let again = format!(
        r#"{{"value":[],"@odata.nextLink":"{}/v1.0/users?$select={SELECT}&$top=999&$skiptoken=same"}}"#,
        server.uri()
    );
    first_page()
        .respond_with(json(200, again.clone()))
        .mount(&server)
        .await;
    page("same")
        .respond_with(json(200, again))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits).fetch().await.unwrap_err();
    assert!(matches!(&err, Error::Graph { page: 2, .. }), "{err:?}");
}

#[tokio::test]
async fn users_that_are_not_objects_are_issues_and_guests_can_be_contacts() {
    let server = server_with_token(1).await;
    let body = r#"{"value":[
        {"id":"g1","mail":"pat@partner.example","userType":"Guest","accountEnabled":true},
        {"id":"x1","mail":42},
        "not an object"
    ]}"#;
    first_page()
        .respond_with(json(200, body.to_owned()))
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .guests(GuestPolicy::Contact)
        .fetch()
        .await
        .unwrap();
    assert_eq!(snapshot.entries.len(), 1);
    assert_eq!(snapshot.entries[0].kind, RecipientKind::Contact);
    let places: Vec<_> = snapshot.issues.iter().map(|i| i.location.clone()).collect();
    assert_eq!(places, [Location::object_id("x1"), Location::record(2)]);
}

#[tokio::test]
async fn by_default_account_enabled_is_neither_selected_nor_provided_so_a_disabled_shared_mailbox_stays()
 {
    let server = server_with_token(1).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param(
            "$select",
            "id,mail,proxyAddresses,givenName,surname,mobilePhone,businessPhones,companyName,department,userType,userPrincipalName",
        ))
        .respond_with(json(
            200,
            r#"{"value":[{"id":"s1","mail":"shared@example.com","accountEnabled":false}]}"#.to_owned(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = default_source(&server, &waits).fetch().await.unwrap();
    assert!(snapshot.entries[0].enabled);
    assert!(!snapshot.provided.contains(Field::Enabled));
}

#[test]
fn plain_http_to_another_machine_is_refused_before_any_request() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(
            GraphSource::new(TENANT, CLIENT_ID, SECRET.into())
                .authority("http://login.example.com")
                .fetch(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::GraphEndpoint { .. }), "{err:?}");
    assert!(!err.is_directory_unavailable());
}

const SALES: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";
const VIP: &str = "b4d0c9e8-0000-4000-8000-00000000000c";

/// A group's name request.
fn group(id: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/groups/{id}")))
        .and(header("authorization", bearer().as_str()))
        .and(query_param("$select", "id,displayName"))
}

/// A group's transitive members request.
fn members(id: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/groups/{id}/transitiveMembers")))
        .and(header("authorization", bearer().as_str()))
        .and(query_param("$select", "id"))
        .and(query_param("$top", "999"))
}

#[tokio::test]
async fn the_named_groups_transitive_members_become_member_of() {
    let server = server_with_token(1).await;
    three_pages(&server).await;
    group(SALES)
        .respond_with(json(200, fixture(&server, "group_sales")))
        .expect(1)
        .mount(&server)
        .await;
    members(SALES)
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(200, fixture(&server, "group_sales_members_page1")))
        .expect(1)
        .mount(&server)
        .await;
    members(SALES)
        .and(query_param("$skiptoken", "RFNwdAoAAQAAAAAAAAAAFAAAAA"))
        .respond_with(json(200, fixture(&server, "group_sales_members_page2")))
        .expect(1)
        .mount(&server)
        .await;
    group(VIP)
        .respond_with(json(200, fixture(&server, "group_vip")))
        .expect(1)
        .mount(&server)
        .await;
    members(VIP)
        .respond_with(json(200, fixture(&server, "group_vip_members")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .groups([SALES, VIP])
        .fetch()
        .await
        .unwrap();
    assert!(snapshot.provided.contains(Field::Groups));
    let groups: Vec<_> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.member_of.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })
        .collect();
    // Bo's id is listed only as an orgContact, which is not a user membership.
    assert_eq!(
        groups,
        [
            ("ann@example.org", vec![]),
            ("cy@example.com", vec!["Sales & Marketing"]),
            ("Ann.Lee@example.com", vec!["Sales & Marketing", "VIP"]),
            ("bo.ray@example.com", vec![]),
        ]
    );
}

#[tokio::test]
async fn without_groups_none_are_read_or_provided() {
    let server = server_with_token(1).await;
    three_pages(&server).await;
    Mock::given(path_regex_groups())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits).fetch().await.unwrap();
    assert!(!snapshot.provided.contains(Field::Groups));
    assert!(snapshot.entries.iter().all(|e| e.member_of.is_empty()));
}

fn path_regex_groups() -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex("^/v1.0/groups")
}

#[tokio::test]
async fn a_group_that_cannot_be_read_fails_the_fetch() {
    let missing = "f00dcafe-0000-4000-8000-00000000000d";
    let server = server_with_token(1).await;
    three_pages(&server).await;
    group(missing)
        .respond_with(json(404, fixture(&server, "error_group_not_found")))
        .expect(1)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .groups([missing])
        .fetch()
        .await
        .unwrap_err();
    match &err {
        Error::Graph {
            url, status, code, ..
        } => {
            assert!(url.ends_with(&format!("/v1.0/groups/{missing}")), "{url}");
            assert_eq!(*status, Some(404));
            assert_eq!(code.as_deref(), Some("Request_ResourceNotFound"));
        }
        other => panic!("expected a Graph error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_member_page_fails_the_fetch() {
    let server = server_with_token(1).await;
    three_pages(&server).await;
    group(SALES)
        .respond_with(json(200, fixture(&server, "group_sales")))
        .mount(&server)
        .await;
    members(SALES)
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(200, fixture(&server, "group_sales_members_page1")))
        .mount(&server)
        .await;
    members(SALES)
        .and(query_param("$skiptoken", "RFNwdAoAAQAAAAAAAAAAFAAAAA"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3"))
        .expect(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .groups([SALES])
        .max_retries(1)
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(waits.seconds(), [3]);
    assert!(
        matches!(&err, Error::Graph { page: 2, status: Some(429), url, .. } if url.ends_with("/transitiveMembers")),
        "{err:?}"
    );
}

const GROUP_SELECT: &str = "id,displayName,mail,proxyAddresses,securityEnabled,groupTypes";
const GROUPS_SKIP_2: &str = "RFNwdAIAAQAAAB5Hcm91cF9hMWIy";

/// A request for a page of mail-enabled groups: exactly the mapped
/// properties, only mail-enabled groups, Graph's largest page.
fn mail_groups(skiptoken: Option<&str>) -> wiremock::MockBuilder {
    let request = Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(header("authorization", bearer().as_str()))
        .and(query_param("$select", GROUP_SELECT))
        .and(query_param("$filter", "mailEnabled eq true"))
        .and(query_param("$top", "999"));
    match skiptoken {
        None => request.and(query_param_is_missing("$skiptoken")),
        Some(token) => request.and(query_param("$skiptoken", token)),
    }
}

/// A server with the three pages of users and the first page of mail-enabled groups.
async fn users_and_first_group_page() -> MockServer {
    let server = server_with_token(1).await;
    three_pages(&server).await;
    mail_groups(None)
        .respond_with(json(200, fixture(&server, "groups_mail_page1")))
        .expect(1)
        .mount(&server)
        .await;
    server
}

const SALES_TEAM: &str = "a1b2c3d4-1111-4aaa-8bbb-000000000001";
const FINANCE: &str = "a1b2c3d4-2222-4aaa-8bbb-000000000002";
const SALES_TEAM_SKIP_2: &str = "RFNwdAoAAQAAAAAAAAAAFAAAAB";

/// Both pages of mail-enabled groups and every group's transitive members:
/// Sales Team (two pages: Ann directly, Cy through a security group without
/// mail, a device, a contact and a service principal), Finance Approvers
/// (Sales Team nested in it, flattened as Graph does, and Bo), the other
/// two none.
async fn mail_groups_with_members(server: &MockServer) {
    mail_groups(Some(GROUPS_SKIP_2))
        .respond_with(json(200, fixture(server, "groups_mail_page2")))
        .expect(1)
        .with_priority(3)
        .mount(server)
        .await;
    members(SALES_TEAM)
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(
            200,
            fixture(server, "groups_mail_sales_members_page1"),
        ))
        .expect(1)
        .mount(server)
        .await;
    members(SALES_TEAM)
        .and(query_param("$skiptoken", SALES_TEAM_SKIP_2))
        .respond_with(json(
            200,
            fixture(server, "groups_mail_sales_members_page2"),
        ))
        .expect(1)
        .mount(server)
        .await;
    members(FINANCE)
        .respond_with(json(200, fixture(server, "groups_mail_finance_members")))
        .expect(1)
        .mount(server)
        .await;
    for empty in [
        "a1b2c3d4-3333-4aaa-8bbb-000000000003",
        "a1b2c3d4-4444-4aaa-8bbb-000000000004",
    ] {
        members(empty)
            .respond_with(json(200, fixture(server, "members_none")))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// As LDAP's `LdapObjects::Both`: every entry's `member_of` names the
/// mail-enabled groups it is in, nested ones too, and `groups` is provided.
#[tokio::test]
async fn mail_enabled_groups_give_every_entry_its_transitive_memberships() {
    let server = users_and_first_group_page().await;
    mail_groups_with_members(&server).await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .mail_enabled_groups()
        .fetch()
        .await
        .unwrap();
    assert!(snapshot.provided.contains(Field::Groups));
    let member_of: Vec<_> = snapshot
        .entries
        .iter()
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.member_of.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        member_of,
        [
            ("ann@example.org", vec![]),
            // Through the security group without mail, on the second page.
            ("cy@example.com", vec!["Finance Approvers", "Sales Team"]),
            (
                "Ann.Lee@example.com",
                vec!["Finance Approvers", "Sales Team"]
            ),
            // A nested mail-enabled group is a member too.
            ("sales@example.com", vec!["Finance Approvers"]),
            ("finance-approvers@example.com", vec![]),
            ("falcon@example.com", vec![]),
            // Last: an entry with an issue is placed once the rest are in.
            ("bo.ray@example.com", vec!["Finance Approvers"]),
        ]
    );
    // The device (in both groups), the contact and the service principal: once each.
    let others = snapshot
        .note(NoteKind::OtherMembers)
        .expect("a note of other members");
    assert_eq!(others.count, 3);
    assert!(!others.kept);
    assert_eq!(
        others.examples,
        [
            "device d3v1c3d3-0000-4000-8000-00000000000b",
            "orgContact 0c0c0c0c-0000-4000-8000-00000000000e",
            "servicePrincipal 5e5e5e5e-0000-4000-8000-00000000000f",
        ]
    );
    assert!(
        snapshot
            .issues
            .iter()
            .all(|i| i.location != Location::object_id("d3v1c3d3-0000-4000-8000-00000000000b")),
        "an ignored member is a note, never an issue (issues hold back deletions)"
    );
}

#[tokio::test]
async fn a_failing_page_of_a_mail_enabled_groups_members_fails_the_fetch() {
    let server = users_and_first_group_page().await;
    mail_groups(Some(GROUPS_SKIP_2))
        .respond_with(json(200, fixture(&server, "groups_mail_page2")))
        .mount(&server)
        .await;
    members(SALES_TEAM)
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(
            200,
            fixture(&server, "groups_mail_sales_members_page1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    members(SALES_TEAM)
        .and(query_param("$skiptoken", SALES_TEAM_SKIP_2))
        .respond_with(
            json(503, fixture(&server, "error_unavailable")).insert_header("Retry-After", "2"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .mail_enabled_groups()
        .max_retries(1)
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(waits.seconds(), [2]);
    assert_page_unavailable(&err, 2);
    assert!(
        matches!(&err, Error::Graph { url, .. } if url.ends_with(&format!("/groups/{SALES_TEAM}/transitiveMembers"))),
        "{err:?}"
    );
}

#[tokio::test]
async fn mail_enabled_groups_are_recipients_of_their_kind_when_asked_for() {
    let server = users_and_first_group_page().await;
    mail_groups_with_members(&server).await;
    let waits = Arc::new(Waits::default());
    let snapshot = source(&server, &waits)
        .mail_enabled_groups()
        .fetch()
        .await
        .unwrap();

    let groups: Vec<_> = snapshot
        .entries
        .iter()
        .filter(|e| e.kind != RecipientKind::UserMailbox)
        .map(|e| {
            (
                e.primary_email.as_str(),
                e.kind,
                e.aliases.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                e.attributes.get("displayName").map(String::as_str),
                e.external_id.as_ref().map(|id| id.as_str()),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "sales@example.com",
                RecipientKind::DistributionGroup,
                vec!["sales@contoso.onmicrosoft.com"],
                Some("Sales Team"),
                Some("a1b2c3d4-1111-4aaa-8bbb-000000000001"),
            ),
            (
                "finance-approvers@example.com",
                RecipientKind::SecurityGroup,
                vec![],
                Some("Finance Approvers"),
                Some("a1b2c3d4-2222-4aaa-8bbb-000000000002"),
            ),
            // A Microsoft 365 group, security-enabled or not, delivers like a list.
            (
                "falcon@example.com",
                RecipientKind::DistributionGroup,
                vec!["falcon@example.org"],
                Some("Project Falcon"),
                Some("a1b2c3d4-3333-4aaa-8bbb-000000000003"),
            ),
        ]
    );
    // The users are all still there.
    assert_eq!(snapshot.entries.len(), 4 + 3);
    let users = snapshot
        .entries
        .iter()
        .filter(|e| e.kind == RecipientKind::UserMailbox);
    assert_eq!(users.count(), 4);
    // A group whose address does not parse is an issue at its object id.
    let bad = snapshot
        .issues
        .iter()
        .find(|i| i.location == Location::object_id("a1b2c3d4-4444-4aaa-8bbb-000000000004"))
        .expect("an issue for the group with a bad address");
    assert_eq!(bad.field.as_deref(), Some("mail"));
    assert_eq!(bad.value.as_deref(), Some("legacy list@example.com"));
    // `kind` is still not provided: a user's kind remains unknown to Graph.
    assert!(!snapshot.provided.contains(Field::Kind));
}

#[tokio::test]
async fn a_page_of_mail_enabled_groups_that_fails_fails_the_fetch() {
    let server = users_and_first_group_page().await;
    mail_groups(Some(GROUPS_SKIP_2))
        .respond_with(
            json(503, fixture(&server, "error_unavailable")).insert_header("Retry-After", "2"),
        )
        .expect(2)
        .with_priority(3)
        .mount(&server)
        .await;
    let waits = Arc::new(Waits::default());
    let err = source(&server, &waits)
        .mail_enabled_groups()
        .max_retries(1)
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(waits.seconds(), [2]);
    assert!(
        matches!(&err, Error::Graph { page: 2, status: Some(503), url, .. } if url.ends_with("/v1.0/groups")),
        "{err:?}"
    );
}
