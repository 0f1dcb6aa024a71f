//! The gate: authentication, read-only check, rate limit, injected faults
//! and the request log, in that order, around every API handler.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::{AppState, Session};
use crate::clock::lock;
use crate::config::{Fault, Login};
use crate::conn::Cut;
use crate::observe::{RequestRecord, redact};
use crate::reply::ApiError;

/// Bodies larger than this are refused (a bulk create of thousands of users fits easily).
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;

/// Larger bodies (bulk creates of hundreds of users) are not kept in the log:
/// parsing them a second time would slow big tests down for little gain.
const MAX_LOGGED_BODY: usize = 256 * 1024;

const UNMATCHED: &str = "<unmatched>";

pub(crate) async fn gate(
    State(shared): State<AppState>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    if route.starts_with("/__admin") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let at = shared.clock.now().saturating_duration_since(shared.started);
    let login_name = claimed_login(request.headers(), is_v2(&route)).map(|(u, _)| u);

    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                .into_response();
        }
    };
    let logged_body = if bytes.len() <= MAX_LOGGED_BODY {
        serde_json::from_slice(&bytes).ok().map(redact)
    } else {
        None
    };
    let request = Request::from_parts(parts, Body::from(bytes));

    let (response, fault) = if route == UNMATCHED {
        (next.run(request).await, None)
    } else {
        guarded(&shared, &cut, &route, request, next).await
    };

    // A cut connection answered nothing: count it as status 0 and say in
    // the fault what the handler would have answered.
    let (status, fault) = if cut.is_cut() {
        let unsent = response.status().as_u16();
        (0, fault.map(|f| format!("{f} ({unsent} not sent)")))
    } else {
        (response.status().as_u16(), fault)
    };
    lock(&shared.observations).record(RequestRecord {
        method: method.to_string(),
        uri,
        route,
        login: login_name,
        status,
        fault,
        at,
        body: logged_body,
    });
    response
}

/// Everything after routing for a matched API route. Returns the response
/// and a description of the injected fault, if any.
async fn guarded(
    shared: &AppState,
    cut: &Cut,
    route: &str,
    mut request: Request,
    next: Next,
) -> (Response, Option<String>) {
    let login = match authenticate(shared, request.headers(), is_v2(route)) {
        Ok(login) => login,
        Err(e) => return (e.into_response(), None),
    };
    let is_write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if is_write && login.read_only {
        let e = ApiError::new(
            StatusCode::FORBIDDEN,
            format!("login `{}` is read-only", login.user),
        );
        return (e.into_response(), None);
    }
    let now = shared.clock.now();
    let admitted = lock(&shared.limiter).admit(&login.user.to_lowercase(), now);
    if let Err(wait) = admitted {
        return (too_many(shared, wait), None);
    }
    let decision = lock(&shared.faults).decide(is_write);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    let fault_name = match decision.fault {
        Some(Fault::Status(s)) => Some(format!("status {s}")),
        Some(Fault::DropBeforeCommit) => Some("drop before commit".to_owned()),
        Some(Fault::DropAfterCommit) => Some("drop after commit".to_owned()),
        Some(Fault::Slow(d)) => Some(format!("slow {d:?}")),
        None => decision.delay.map(|d| format!("slow {d:?}")),
    };
    match decision.fault {
        Some(Fault::Status(s)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = ApiError::new(status, "injected fault: the gateway is having trouble");
            return (body.into_response(), fault_name);
        }
        Some(Fault::DropBeforeCommit) => {
            cut.cut();
            return (StatusCode::SERVICE_UNAVAILABLE.into_response(), fault_name);
        }
        _ => {}
    }
    request.extensions_mut().insert(Session { login });
    let response = next.run(request).await;
    if decision.fault == Some(Fault::DropAfterCommit) {
        cut.cut();
    }
    (response, fault_name)
}

fn is_v2(route: &str) -> bool {
    route.starts_with("/v2/")
}

/// The (user, password) a request claims: `X-User`/`X-Password` for v1,
/// HTTP Basic for v2.
fn claimed_login(headers: &HeaderMap, v2: bool) -> Option<(String, String)> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if v2 {
        let encoded = text(header::AUTHORIZATION.as_str())?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    } else {
        Some((text("x-user")?.to_owned(), text("x-password")?.to_owned()))
    }
}

fn authenticate(shared: &AppState, headers: &HeaderMap, v2: bool) -> Result<Login, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let (user, password) = claimed_login(headers, v2).ok_or_else(|| {
        unauthorized(if v2 {
            "missing or malformed Basic authorization"
        } else {
            "missing X-User / X-Password headers"
        })
    })?;
    match shared.logins.get(&user.to_lowercase()) {
        Some(login) if login.password == password => Ok(login.clone()),
        _ => Err(unauthorized("wrong user name or password")),
    }
}

fn too_many(shared: &AppState, wait: Duration) -> Response {
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded").into_response();
    if lock(&shared.limiter).sends_retry_after() {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}
