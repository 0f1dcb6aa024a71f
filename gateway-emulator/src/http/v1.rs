//! Essentials v1: `/api/v1/...`, snake_case, `X-User` / `X-Password`.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use muster_core::Domain;
use serde_json::{Value, json};

use super::{AppState, Session, json_body, path_email};
use crate::clock::lock;
use crate::model::{parse_v1, render_v1};
use crate::reply::ApiError;
use crate::store::OrgState;

type Reply = Result<Response, ApiError>;

/// `GET /me`: the authenticated account.
pub(crate) async fn me(Extension(session): Extension<Session>) -> Json<Value> {
    let login = &session.login;
    let partner = session.is_partner();
    let entity_domain = if partner {
        login
            .user
            .rsplit_once('@')
            .map_or(String::new(), |(_, d)| d.to_owned())
    } else {
        session.home_org()
    };
    Json(json!({
        "primary_email": login.user,
        "type": if partner { "channel_admin" } else { "organization_admin" },
        "is_admin": true,
        "is_partner_admin": partner,
        "read_only_user": login.read_only,
        "entity_type": if partner { "partner" } else { "organization" },
        "entity_primary_domain": entity_domain,
    }))
}

/// `GET /endpoints/{domain}`: where the organisation owning `domain` lives.
///
/// The real element shape is unknown (api-facts §1.1); the emulator answers
/// `{"endpoints": ["http://127.0.0.1:PORT/api/v1"]}`: the base URL to use.
pub(crate) async fn endpoints(State(shared): State<AppState>, Path(domain): Path<String>) -> Reply {
    let d = Domain::parse(&domain).map_err(|e| ApiError::bad_request(format!("domain: {e}")))?;
    let known = lock(&shared.store).orgs().any(|o| o.domains.contains(&d));
    if !known {
        return Err(ApiError::not_found(format!("domain `{domain}` not found")));
    }
    Ok(Json(json!({"endpoints": [format!("{}/api/v1", shared.base_url)]})).into_response())
}

/// One registered domain as `/orgs/{domain}` and `/orgs/{domain}/domains`
/// show it (the fields krzydoug/Proofpoint's class reads; api-facts §1.4).
fn domain_json(d: &Domain) -> Value {
    json!({
        "name": d.as_str(),
        "is_active": true,
        "is_relay": false,
        "destination": "",
        "failovers": [],
    })
}

fn org_json(o: &OrgState) -> Value {
    json!({
        "primary_domain": o.primary.as_str(),
        "name": o.name,
        "type": "organization",
        "is_active": true,
        "user_licenses": o.user_licenses,
        "active_users": o.active_users(),
        "send_welcome_email": o.send_welcome_email,
        "domains": o.domains.iter().map(domain_json).collect::<Vec<_>>(),
    })
}

/// `GET /orgs/{domain}`: the organisation with its registered domains and licence figures.
pub(crate) async fn org(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(domain): Path<String>,
) -> Reply {
    with_org(&shared, &session, &domain, |o| {
        Json(org_json(o)).into_response()
    })
}

/// Runs `f` on the organisation `domain` names, once the session may read it.
fn with_org<T>(
    shared: &AppState,
    session: &Session,
    domain: &str,
    f: impl FnOnce(&OrgState) -> T,
) -> Result<T, ApiError> {
    let key = session.org(shared, domain)?;
    let store = lock(&shared.store);
    let o = store
        .org(&key)
        .ok_or_else(|| ApiError::not_found("organisation gone"))?;
    Ok(f(o))
}

/// `GET /orgs/{domain}/domains`: the registered domains, `{"domains": [...]}`.
pub(crate) async fn domains(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(domain): Path<String>,
) -> Reply {
    with_org(&shared, &session, &domain, |o| {
        let domains: Vec<Value> = o.domains.iter().map(domain_json).collect();
        Json(json!({ "domains": domains })).into_response()
    })
}

/// `GET /orgs/{domain}/domains/{name}`: one registered domain, or 404.
pub(crate) async fn domain(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path((domain, name)): Path<(String, String)>,
) -> Reply {
    with_org(&shared, &session, &domain, |o| {
        let wanted =
            Domain::parse(&name).map_err(|e| ApiError::bad_request(format!("domain: {e}")))?;
        o.domains
            .iter()
            .find(|d| **d == wanted)
            .map(|d| Json(domain_json(d)).into_response())
            .ok_or_else(|| ApiError::not_found(format!("domain `{name}` is not registered")))
    })?
}

/// `GET /orgs/{partner}/orgs`: the organisations a channel admin administers.
pub(crate) async fn child_orgs(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(domain): Path<String>,
) -> Reply {
    let own = session
        .login
        .user
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&domain));
    if !session.is_partner() || !own {
        return Err(ApiError::not_found(format!("partner `{domain}` not found")));
    }
    let store = lock(&shared.store);
    let orgs: Vec<Value> = session
        .login
        .orgs
        .iter()
        .filter_map(|k| store.org(k))
        .map(org_json)
        .collect();
    Ok(Json(json!({ "orgs": orgs })).into_response())
}

/// `GET /orgs/{domain}/users`: every user, unpaged (v1 has no paging).
pub(crate) async fn list_users(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(domain): Path<String>,
) -> Reply {
    let key = session.org(&shared, &domain)?;
    let now = shared.clock.now();
    let store = lock(&shared.store);
    let o = store
        .org(&key)
        .ok_or_else(|| ApiError::not_found("organisation gone"))?;
    let users: Vec<Value> = o
        .visible_users(now)
        .map(|u| render_v1(u, shared.spelling))
        .collect();
    Ok(Json(json!({ "users": users })).into_response())
}

/// `POST /orgs/{domain}/users`: one user object, or an array of them.
///
/// Answers `{"users": [created...], "errors": [{status, error_message,
/// identifier}...]}`: 201 when at least one user was created, otherwise
/// the status of the first error.
pub(crate) async fn create_users(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(domain): Path<String>,
    body: Bytes,
) -> Reply {
    let key = session.org(&shared, &domain)?;
    let items = match json_body(&body)? {
        Value::Array(items) if items.is_empty() => {
            return Err(ApiError::bad_request("empty array: nothing to create"));
        }
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(ApiError::bad_request(
                "expected a user object or an array of user objects",
            ));
        }
    };
    let now = shared.clock.now();
    let lag = lock(&shared.faults).lag();
    let mut store = lock(&shared.store);
    let mut created = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let identifier = item
            .get("primary_email")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), str::to_owned);
        let result = parse_v1(item)
            .map_err(ApiError::bad_request)
            .and_then(|w| store.create(&key, w, now, lag, true));
        match result {
            Ok(user) => created.push(render_v1(user, shared.spelling)),
            Err(e) => errors.push(e.about(identifier)),
        }
    }
    let status = match errors.first() {
        Some(first) if created.is_empty() => first.status,
        _ => StatusCode::CREATED,
    };
    let errors: Vec<Value> = errors.iter().map(ApiError::to_json).collect();
    Ok((status, Json(json!({"users": created, "errors": errors}))).into_response())
}

/// `GET /orgs/{domain}/users/{email}`: one user, by primary address.
pub(crate) async fn get_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path((domain, email)): Path<(String, String)>,
) -> Reply {
    let key = session.org(&shared, &domain)?;
    let email = path_email(&email)?;
    let now = shared.clock.now();
    let store = lock(&shared.store);
    store
        .org(&key)
        .and_then(|o| o.visible_user(&email, now))
        .map(|u| Json(render_v1(u, shared.spelling)).into_response())
        .ok_or_else(|| {
            ApiError::not_found(format!("user `{email}` not found")).about(email.as_str())
        })
}

/// `PUT /orgs/{domain}/users/{email}`: full replace; omitted fields reset to defaults.
pub(crate) async fn put_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path((domain, email)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let key = session.org(&shared, &domain)?;
    let email = path_email(&email)?;
    let write =
        parse_v1(json_body(&body)?).map_err(|m| ApiError::bad_request(m).about(email.as_str()))?;
    lock(&shared.store).replace(&key, &email, write)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /orgs/{domain}/users/{email}`: immediate, aliases included.
pub(crate) async fn delete_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path((domain, email)): Path<(String, String)>,
) -> Reply {
    let key = session.org(&shared, &domain)?;
    let email = path_email(&email)?;
    lock(&shared.store).delete(&key, &email)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
