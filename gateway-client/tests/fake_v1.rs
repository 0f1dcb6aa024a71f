//! The shared scenarios against a small stateful wiremock fake of the v1
//! user API (full-replace PUT, 409 on taken addresses, 400 on unregistered
//! domains, per-item errors), so they run even without the emulator.

mod common;
mod scenarios;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use muster_core::EmailAddress;
use muster_gateway::Client;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use wiremock::matchers::{header, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use scenarios::{Backend, LOGIN, ORG, OTHER_DOMAIN, PASSWORD};

#[derive(Default)]
struct Store {
    users: BTreeMap<EmailAddress, Map<String, Value>>,
    passwords: BTreeMap<EmailAddress, String>,
    next_uid: u64,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Store>>);

fn error(status: u16, message: String, identifier: &str) -> Value {
    json!({"status": status, "error_message": message, "identifier": identifier})
}

impl Store {
    /// Stores `body` as `primary`'s full record, checking domains and
    /// uniqueness like the real thing.
    fn write(
        &mut self,
        mut body: Map<String, Value>,
        replacing: Option<&EmailAddress>,
    ) -> Result<EmailAddress, Value> {
        let primary: EmailAddress = body
            .get("primary_email")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| error(400, "field `primary_email` is required".into(), ""))?;
        let id = primary.to_string();
        let aliases: Vec<EmailAddress> = body
            .get("alias_emails")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
            .unwrap_or_default();
        for address in std::iter::once(&primary).chain(&aliases) {
            let domain = address.domain_ascii();
            if domain != ORG && domain != OTHER_DOMAIN {
                return Err(error(
                    400,
                    format!(
                        "domain `{domain}` of `{address}` is not registered for organisation `{ORG}`"
                    ),
                    &id,
                ));
            }
            let taken = self.users.iter().any(|(owner, u)| {
                Some(owner) != replacing
                    && (owner == address
                        || u["alias_emails"].as_array().is_some_and(|a| {
                            a.iter().any(|v| {
                                v.as_str()
                                    .and_then(|s| s.parse::<EmailAddress>().ok())
                                    .as_ref()
                                    == Some(address)
                            })
                        }))
            });
            if taken {
                return Err(error(
                    409,
                    format!("address `{address}` is already in use"),
                    &id,
                ));
            }
        }
        if let Some(Value::String(pw)) = body.remove("password") {
            self.passwords.insert(primary.clone(), pw);
        }
        body.remove("send_welcome_email");
        if replacing.is_none() {
            self.next_uid += 1;
            body.entry("uid").or_insert(json!(self.next_uid));
        }
        self.users.insert(primary.clone(), body);
        Ok(primary)
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut store = self.0.lock().unwrap();
        let rest = req
            .url
            .path()
            .trim_start_matches(&format!("/api/v1/orgs/{ORG}/users"));
        let target: Option<EmailAddress> = rest.strip_prefix('/').map(|enc| {
            percent_decode_str(enc)
                .decode_utf8()
                .unwrap()
                .parse()
                .unwrap()
        });
        let body = || serde_json::from_slice::<Value>(&req.body).unwrap();
        match (req.method.as_str(), target) {
            ("GET", None) => {
                let users: Vec<Value> = store.users.values().cloned().map(Value::Object).collect();
                ResponseTemplate::new(200).set_body_json(json!({"users": users}))
            }
            ("GET", Some(e)) => match store.users.get(&e) {
                Some(u) => ResponseTemplate::new(200).set_body_json(u),
                None => ResponseTemplate::new(404).set_body_json(error(
                    404,
                    "not found".into(),
                    e.as_str(),
                )),
            },
            ("POST", None) => {
                let items = match body() {
                    Value::Array(items) => items,
                    one => vec![one],
                };
                let (mut users, mut errors) = (Vec::new(), Vec::new());
                for item in items {
                    match store.write(item.as_object().unwrap().clone(), None) {
                        Ok(e) => users.push(Value::Object(store.users[&e].clone())),
                        Err(err) => errors.push(err),
                    }
                }
                let status = match errors.first() {
                    Some(first) if users.is_empty() => first["status"].as_u64().unwrap() as u16,
                    _ => 201,
                };
                ResponseTemplate::new(status)
                    .set_body_json(json!({"users": users, "errors": errors}))
            }
            ("PUT", Some(e)) if store.users.contains_key(&e) => {
                let mut replacement = body().as_object().unwrap().clone();
                replacement.insert("uid".into(), store.users[&e]["uid"].clone());
                match store.write(replacement, Some(&e)) {
                    Ok(_) => ResponseTemplate::new(204),
                    Err(err) => ResponseTemplate::new(err["status"].as_u64().unwrap() as u16)
                        .set_body_json(err),
                }
            }
            ("DELETE", Some(e)) => match store.users.remove(&e) {
                Some(_) => ResponseTemplate::new(204),
                None => ResponseTemplate::new(404),
            },
            _ => ResponseTemplate::new(404),
        }
    }
}

struct WiremockFake {
    server: MockServer,
    fake: Fake,
}

impl Backend for WiremockFake {
    async fn start(seed: Vec<Value>) -> Self {
        let server = common::server().await;
        let fake = Fake::default();
        for user in seed {
            fake.0
                .lock()
                .unwrap()
                .write(user.as_object().unwrap().clone(), None)
                .unwrap();
        }
        Mock::given(path_regex(format!("^/api/v1/orgs/{ORG}/users")))
            .and(header("X-User", LOGIN))
            .and(header("X-Password", PASSWORD))
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        WiremockFake { server, fake }
    }

    fn client(&self) -> Client {
        Client::builder()
            .essentials(&self.server.uri(), ORG)
            .credentials(LOGIN, PASSWORD.into())
            .retry(common::fast_retry())
            .rate_limit(common::unlimited())
            .build()
            .unwrap()
    }

    async fn stored(&self, email: &str) -> Option<Value> {
        let key: EmailAddress = email.parse().unwrap();
        self.fake
            .0
            .lock()
            .unwrap()
            .users
            .get(&key)
            .cloned()
            .map(Value::Object)
    }

    async fn password(&self, email: &str) -> Option<String> {
        let key: EmailAddress = email.parse().unwrap();
        self.fake.0.lock().unwrap().passwords.get(&key).cloned()
    }
}

scenario_tests!(WiremockFake);
