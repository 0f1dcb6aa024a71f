//! Client behaviours that must hold against any faithful v1 gateway: run
//! against a stateful wiremock fake (`fake_v1.rs`) and against the
//! `muster-emulator` (`emulator.rs`) by [`scenario_tests!`].
#![allow(dead_code, unreachable_pub, async_fn_in_trait)]

use muster_core::{Account, EmailAddress, Field};
use muster_gateway::{Client, Error, FieldValue, NewUser, UserPatch, WelcomeEmail};
use serde_json::{Value, json};

/// The organisation every backend serves, its second registered domain, and the login.
pub const ORG: &str = "example.com";
pub const OTHER_DOMAIN: &str = "example.org";
pub const LOGIN: &str = "admin@example.com";
pub const PASSWORD: &str = "S3cret-Pa55word!";

/// A v1 gateway to run scenarios against.
pub trait Backend: Sized {
    /// Starts with these users stored.
    async fn start(seed: Vec<Value>) -> Self;
    /// A client for the organisation, logged in as [`LOGIN`].
    fn client(&self) -> Client;
    /// The user as the backend stores it, looked at from the server side.
    async fn stored(&self, email: &str) -> Option<Value>;
    /// The password the backend holds for the user.
    async fn password(&self, email: &str) -> Option<String>;
}

/// A user with every field a careless PUT would lose.
pub fn rich_user() -> Value {
    json!({
        "primary_email": "ann.lee@example.com",
        "firstname": "Ann",
        "surname": "Lee",
        "alias_emails": ["ann@example.com", "ann@example.org"],
        "type": "end_user",
        "is_active": true,
        "is_billable": false,
        "white_list_senders": ["*@partner.example"],
        "black_list_senders": ["spam@bad.example"],
        "odin_settings": {"can_impersonate": false, "is_imitable": true},
        "x_future": {"nested": [1, {"k": "v"}]}
    })
}

pub fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

fn new_user(address: &str) -> NewUser {
    NewUser::new(
        Account::new(email(address)).with_names("New", "User"),
        WelcomeEmail::DontSend,
    )
}

pub async fn crud_round_trip<B: Backend>() {
    let backend = B::start(vec![]).await;
    let users = backend.client();
    let users = users.users();
    let created = users.create(new_user("new@example.com")).await.unwrap();
    assert_eq!(created.account().first_name.as_deref(), Some("New"));
    let listed = users.list().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u.account().primary_email == email("NEW@example.com"))
    );
    let updated = users
        .update(
            &email("new@example.com"),
            UserPatch::new().last_name(Some("Person")),
        )
        .await
        .unwrap();
    assert_eq!(updated.account().last_name.as_deref(), Some("Person"));
    let read = users.get(&email("new@example.com")).await.unwrap();
    assert_eq!(read.account().last_name.as_deref(), Some("Person"));
    assert_eq!(read.account().first_name.as_deref(), Some("New"));
    users.delete(&email("new@example.com")).await.unwrap();
    let gone = users.get(&email("new@example.com")).await.unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
}

pub async fn update_keeps_every_unowned_field<B: Backend>() {
    let backend = B::start(vec![rich_user()]).await;
    let before = backend.stored("ann.lee@example.com").await.unwrap();
    backend
        .client()
        .users()
        .update(
            &email("ann.lee@example.com"),
            UserPatch::new().first_name(Some("Annie")),
        )
        .await
        .unwrap();
    let after = backend.stored("ann.lee@example.com").await.unwrap();
    let mut expected = before.clone();
    expected["firstname"] = json!("Annie");
    assert_eq!(after, expected);
    assert_eq!(after["is_billable"], json!(false));
    assert_eq!(after["x_future"], rich_user()["x_future"]);
}

pub async fn stale_update_writes_nothing<B: Backend>() {
    let backend = B::start(vec![rich_user()]).await;
    let before = backend.stored("ann.lee@example.com").await.unwrap();
    let patch = UserPatch::new().active(false).expect(
        Field::FirstName,
        FieldValue::Text(Some("Someone else".into())),
    );
    let err = backend
        .client()
        .users()
        .update(&email("ann.lee@example.com"), patch)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Stale { .. }), "{err:?}");
    assert_eq!(backend.stored("ann.lee@example.com").await.unwrap(), before);
}

pub async fn awkward_addresses_round_trip<B: Backend>() {
    let backend = B::start(vec![]).await;
    let client = backend.client();
    for address in [
        "o'brien+tag@example.com",
        "a/b@example.com",
        "x#1%@example.com",
    ] {
        client.users().create(new_user(address)).await.unwrap();
        let got = client.users().get(&email(address)).await.unwrap();
        assert_eq!(got.account().primary_email.as_str(), address);
        client
            .users()
            .update(&email(address), UserPatch::new().active(false))
            .await
            .unwrap();
        assert_eq!(
            backend.stored(address).await.unwrap()["is_active"],
            json!(false)
        );
        client.users().delete(&email(address)).await.unwrap();
        assert!(backend.stored(address).await.is_none(), "{address}");
    }
}

pub async fn bulk_create_reports_each_refusal<B: Backend>() {
    let backend = B::start(vec![rich_user()]).await;
    let report = backend
        .client()
        .users()
        .create_many(vec![
            new_user("fresh@example.org"),
            new_user("ann.lee@example.com"),
            new_user("bob@typo.example"),
        ])
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
    assert_eq!(
        report.created[0].account().primary_email.as_str(),
        "fresh@example.org"
    );
    assert_eq!(report.failed.len(), 2);
    assert!(
        matches!(report.failed[0].error, Error::Conflict { .. }),
        "{:?}",
        report.failed[0]
    );
    assert!(
        matches!(report.failed[1].error, Error::DomainNotRegistered { ref domain } if domain == "typo.example"),
        "{:?}",
        report.failed[1]
    );
    assert!(backend.stored("fresh@example.org").await.is_some());
}

pub async fn a_bulk_create_refused_entirely_is_a_report<B: Backend>() {
    let backend = B::start(vec![rich_user()]).await;
    let report = backend
        .client()
        .users()
        .create_many(vec![new_user("ANN.LEE@example.com")])
        .await
        .unwrap();
    assert!(report.created.is_empty());
    assert!(
        matches!(report.failed[0].error, Error::Conflict { .. }),
        "{:?}",
        report.failed
    );
}

pub async fn a_taken_alias_is_a_conflict<B: Backend>() {
    let backend = B::start(vec![rich_user()]).await;
    let account = Account::new(email("other@example.com")).with_aliases([email("ann@example.org")]);
    let err = backend
        .client()
        .users()
        .create(NewUser::new(account, WelcomeEmail::DontSend))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

pub async fn passwords_are_written_never_read<B: Backend>() {
    let backend = B::start(vec![]).await;
    let client = backend.client();
    client
        .users()
        .create(new_user("pw@example.com").with_password("Initial-1".into()))
        .await
        .unwrap();
    let read = client.users().get(&email("pw@example.com")).await.unwrap();
    assert!(read.field("password").is_none());
    // An update that does not set one sends none.
    client
        .users()
        .update(
            &email("pw@example.com"),
            UserPatch::new().first_name(Some("P")),
        )
        .await
        .unwrap();
    assert!(
        backend
            .stored("pw@example.com")
            .await
            .unwrap()
            .get("password")
            .is_none()
    );
    assert_eq!(
        backend.password("pw@example.com").await.as_deref(),
        Some("Initial-1")
    );
}

/// One `#[tokio::test]` per scenario for backend `$b`.
#[macro_export]
macro_rules! scenario_tests {
    ($b:ty) => {
        #[tokio::test]
        async fn crud_round_trip() {
            scenarios::crud_round_trip::<$b>().await;
        }
        #[tokio::test]
        async fn update_keeps_every_unowned_field() {
            scenarios::update_keeps_every_unowned_field::<$b>().await;
        }
        #[tokio::test]
        async fn stale_update_writes_nothing() {
            scenarios::stale_update_writes_nothing::<$b>().await;
        }
        #[tokio::test]
        async fn awkward_addresses_round_trip() {
            scenarios::awkward_addresses_round_trip::<$b>().await;
        }
        #[tokio::test]
        async fn bulk_create_reports_each_refusal() {
            scenarios::bulk_create_reports_each_refusal::<$b>().await;
        }
        #[tokio::test]
        async fn a_bulk_create_refused_entirely_is_a_report() {
            scenarios::a_bulk_create_refused_entirely_is_a_report::<$b>().await;
        }
        #[tokio::test]
        async fn a_taken_alias_is_a_conflict() {
            scenarios::a_taken_alias_is_a_conflict::<$b>().await;
        }
        #[tokio::test]
        async fn passwords_are_written_never_read() {
            scenarios::passwords_are_written_never_read::<$b>().await;
        }
    };
}
