//! `/__admin/...`: unauthenticated, unlogged views for test harnesses in
//! other languages (the Python package). Not part of the gateway.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use muster_core::Domain;
use serde_json::{Value, json};

use super::{AppState, json_body};
use crate::clock::lock;
use crate::config::Fault;
use crate::model::{parse_v1, render_v1};
use crate::reply::ApiError;

/// `GET /__admin/users`: `{org: [v1 users...]}`, including users hidden by read-after-write lag.
pub(crate) async fn users(State(shared): State<AppState>) -> Json<Value> {
    let snapshot = lock(&shared.store).snapshot(|u| render_v1(u, shared.spelling));
    Json(json!(snapshot))
}

/// `GET /__admin/requests`: the redacted request log.
pub(crate) async fn requests(State(shared): State<AppState>) -> Json<Value> {
    Json(json!(lock(&shared.observations).requests))
}

/// `GET /__admin/counters`: `[{method, route, status, count}]`.
pub(crate) async fn counters(State(shared): State<AppState>) -> Json<Value> {
    let obs = lock(&shared.observations);
    let rows: Vec<Value> = obs
        .counters
        .iter()
        .map(|(k, n)| json!({"method": k.method, "route": k.route, "status": k.status, "count": n}))
        .collect();
    Json(Value::Array(rows))
}

/// `GET /__admin/welcome-letters`: `{org: {address: count}}`.
pub(crate) async fn welcome_letters(State(shared): State<AppState>) -> Json<Value> {
    let store = lock(&shared.store);
    let map: serde_json::Map<String, Value> = store
        .orgs()
        .map(|o| (o.primary.as_ascii().to_owned(), json!(o.welcome_letters)))
        .collect();
    Json(Value::Object(map))
}

/// `POST /__admin/faults`: queues one scripted fault for the next API
/// request. Body: `{"status": 503}`, `{"drop": "before_commit"}`,
/// `{"drop": "after_commit"}` or `{"slow_ms": 200}`; answers 204.
pub(crate) async fn push_fault(State(shared): State<AppState>, body: Bytes) -> Response {
    let parsed = json_body(&body).and_then(|v| fault_from_json(&v));
    match parsed {
        Ok(fault) => {
            lock(&shared.faults).push(fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn fault_from_json(v: &Value) -> Result<Fault, ApiError> {
    if let Some(status) = v.get("status").and_then(Value::as_u64) {
        return u16::try_from(status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .map(Fault::Status)
            .ok_or_else(|| {
                ApiError::bad_request(format!("`status`: {status} is not an HTTP status"))
            });
    }
    if let Some(ms) = v.get("slow_ms").and_then(Value::as_u64) {
        return Ok(Fault::Slow(Duration::from_millis(ms)));
    }
    match v.get("drop").and_then(Value::as_str) {
        Some("before_commit") => Ok(Fault::DropBeforeCommit),
        Some("after_commit") => Ok(Fault::DropAfterCommit),
        _ => Err(ApiError::bad_request(
            "expected {\"status\": N}, {\"slow_ms\": N} or {\"drop\": \"before_commit\" | \"after_commit\"}",
        )),
    }
}

/// `POST /__admin/orgs/{domain}/users`: stores a v1 user as if an
/// administrator had added it in the console (no welcome letter, no lag,
/// no rate limit); 201 with the stored user, or 400/404/409 like the API.
pub(crate) async fn insert_user(
    State(shared): State<AppState>,
    Path(domain): Path<String>,
    body: Bytes,
) -> Response {
    let result = json_body(&body).and_then(|v| {
        let key = Domain::parse(&domain)
            .map_err(|e| ApiError::bad_request(format!("organisation domain: {e}")))?
            .as_ascii()
            .to_owned();
        let write = parse_v1(v).map_err(ApiError::bad_request)?;
        let now = shared.clock.now();
        let mut store = lock(&shared.store);
        let user = store.create(&key, write, now, Duration::ZERO, false)?;
        Ok(render_v1(user, shared.spelling))
    });
    match result {
        Ok(user) => (StatusCode::CREATED, Json(user)).into_response(),
        Err(e) => e.into_response(),
    }
}
