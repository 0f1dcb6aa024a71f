//! Shared set-up for the integration tests: one emulator per test, plain reqwest.
#![allow(dead_code, unreachable_pub)]

use muster_emulator::{Emulator, EmulatorBuilder, Login, Org, RateLimit};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

pub const ORG: &str = "example.com";
pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse";

/// One org (example.com + example.org registered) and one admin login, no rate limit.
pub fn builder() -> EmulatorBuilder {
    Emulator::builder()
        .org(Org::new(ORG).domain("example.org"))
        .login(Login::org_admin(ADMIN, PASSWORD, ORG))
        .rate_limit(RateLimit::unlimited())
}

pub async fn start() -> Emulator {
    builder().start().await.expect("emulator starts")
}

/// A v1 client bound to one emulator and login.
pub struct V1 {
    pub http: Client,
    pub base: String,
    pub user: String,
    pub password: String,
}

impl V1 {
    pub fn new(emu: &Emulator) -> Self {
        Self::as_login(emu, ADMIN, PASSWORD)
    }

    pub fn as_login(emu: &Emulator, user: &str, password: &str) -> Self {
        V1 {
            http: Client::new(),
            base: emu.api_v1_url(),
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("X-User", &self.user)
            .header("X-Password", &self.password)
    }

    pub fn users_path(org: &str) -> String {
        format!("/orgs/{org}/users")
    }

    pub async fn create(&self, body: Value) -> Response {
        self.req(reqwest::Method::POST, &Self::users_path(ORG))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put(&self, email: &str, body: Value) -> Response {
        self.req(reqwest::Method::PUT, &format!("/orgs/{ORG}/users/{email}"))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_user(&self, email: &str) -> Response {
        self.get(&format!("/orgs/{ORG}/users/{email}")).await
    }

    pub async fn delete(&self, email: &str) -> Response {
        self.req(
            reqwest::Method::DELETE,
            &format!("/orgs/{ORG}/users/{email}"),
        )
        .send()
        .await
        .expect("request sent")
    }

    pub async fn list(&self) -> Vec<Value> {
        let body: Value = self
            .get(&Self::users_path(ORG))
            .await
            .json()
            .await
            .expect("JSON list");
        body["users"].as_array().cloned().unwrap_or_default()
    }
}

/// A user with every field set to a non-default value.
pub fn full_user(email: &str) -> Value {
    json!({
        "primary_email": email,
        "firstname": "Ann",
        "surname": "Lee",
        "alias_emails": [email.replace("@example.com", "@example.org")],
        "type": "functional_account",
        "is_active": false,
        "is_billable": false,
        "read_only_user": true,
        "white_list_senders": ["*@partner.example"],
        "black_list_senders": ["spam@bad.example"],
        "odin_settings": {"can_impersonate": true, "is_imitable": true},
        "x_future": {"kept": true},
        "password": "initial-pass",
        "send_welcome_email": false,
    })
}

pub async fn body(r: Response) -> Value {
    r.json().await.expect("JSON body")
}
