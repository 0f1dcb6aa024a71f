//! The HTTP face: routing, and the gate every API request passes
//! (authentication, read-only check, rate limit, faults, logging).

mod admin;
mod gate;
mod v1;
mod v2;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use muster_core::{Domain, EmailAddress};
use serde_json::Value;

use crate::clock::{Clock, lock};
use crate::config::{Login, LoginKind, SenderListSpelling};
use crate::faults::FaultState;
use crate::limiter::Limiter;
use crate::observe::Observations;
use crate::reply::ApiError;
use crate::store::Store;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    /// Logins by lowercase user name.
    pub(crate) logins: HashMap<String, Login>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) observations: Mutex<Observations>,
    pub(crate) clock: Arc<dyn Clock>,
    /// When the emulator started, by its clock: requests are timed from it.
    pub(crate) started: std::time::Instant,
    pub(crate) spelling: SenderListSpelling,
    pub(crate) base_url: String,
}

pub(crate) type AppState = Arc<Shared>;

/// The authenticated login of a request, put in its extensions by the gate.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) login: Login,
}

impl Session {
    /// The store key of organisation `domain` if this login administers it:
    /// 404 for an organisation that does not exist, 403 for someone else's.
    pub(crate) fn org(&self, shared: &Shared, domain: &str) -> Result<String, ApiError> {
        let d = Domain::parse(domain)
            .map_err(|e| ApiError::bad_request(format!("organisation domain: {e}")))?;
        let key = d.as_ascii().to_owned();
        if lock(&shared.store).org(&key).is_none() {
            return Err(ApiError::not_found(format!(
                "organisation `{domain}` not found"
            )));
        }
        if !self.login.orgs.contains(&key) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("login `{}` does not administer `{domain}`", self.login.user),
            ));
        }
        Ok(key)
    }

    /// The organisation v2 requests act on: the login's first (v2 has no
    /// organisation in its paths; an API key belongs to one organisation).
    pub(crate) fn home_org(&self) -> String {
        self.login.orgs.first().cloned().unwrap_or_default()
    }

    pub(crate) fn is_partner(&self) -> bool {
        self.login.kind == LoginKind::ChannelAdmin
    }
}

/// Parses a request body as JSON, or says where it is broken.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty, expected JSON",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// Parses an address taken from a path.
pub(crate) fn path_email(email: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(email)
        .map_err(|e| ApiError::bad_request(format!("address in path: {e}")).about(email))
}

/// The complete router, gate included.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/me", get(v1::me))
        .route("/api/v1/endpoints/{domain}", get(v1::endpoints))
        .route("/api/v1/orgs/{domain}", get(v1::org))
        .route("/api/v1/orgs/{domain}/orgs", get(v1::child_orgs))
        .route("/api/v1/orgs/{domain}/domains", get(v1::domains))
        .route("/api/v1/orgs/{domain}/domains/{name}", get(v1::domain))
        .route(
            "/api/v1/orgs/{domain}/users",
            get(v1::list_users).post(v1::create_users),
        )
        .route(
            "/api/v1/orgs/{domain}/users/{email}",
            get(v1::get_user).put(v1::put_user).delete(v1::delete_user),
        )
        .route("/v2/users", get(v2::list_users).post(v2::create_user))
        .route(
            "/v2/users/{email}",
            get(v2::get_user).put(v2::put_user).delete(v2::delete_user),
        )
        .route("/v2/groups", get(v2::list_groups).post(v2::create_group))
        .route(
            "/v2/groups/{id}/members",
            get(v2::list_members).post(v2::add_member),
        )
        .route("/v2/groups/{id}/members/{email}", delete(v2::remove_member))
        .route("/__admin/users", get(admin::users))
        .route("/__admin/requests", get(admin::requests))
        .route("/__admin/counters", get(admin::counters))
        .route("/__admin/welcome-letters", get(admin::welcome_letters))
        .route("/__admin/faults", post(admin::push_fault))
        .route("/__admin/orgs/{domain}/users", post(admin::insert_user))
        .fallback(not_found);
    api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        gate::gate,
    ))
    // The gate buffers bodies up to MAX_BODY; let the handlers take as much.
    .layer(DefaultBodyLimit::max(gate::MAX_BODY))
    .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
