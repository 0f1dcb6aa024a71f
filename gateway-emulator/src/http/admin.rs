//! `/__admin/...`: unauthenticated, unlogged views for test harnesses in
//! other languages (the Python package). Not part of the gateway.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::clock::lock;
use crate::model::render_v1;

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
