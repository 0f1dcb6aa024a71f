//! Sending one logical request: pacing, attempts, classification, backoff,
//! and turning an answer into a value or an [`Error`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use backon::Retryable;
use futures::future::BoxFuture;

use base64::Engine;
use muster_core::EmailAddress;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde_json::Value;
use tracing::Instrument;

use crate::client::Inner;
use crate::retry::{AttemptOutcome, RetryAction, RetryReason, classify, honours_retry_after};
use crate::{Dialect, Error};

/// Whether a request may be repeated without changing the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// GET, PUT (full replace), DELETE: retried on every transient failure.
    Idempotent,
    /// POST: retried only when the gateway certainly did not process it (429,
    /// connect failure); other failures go back to the caller, who reads back.
    NotIdempotent,
}

/// One logical request.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) segments: Vec<&'a str>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
    pub(crate) idempotency: Idempotency,
    /// A refusal whose body lists per-item `errors` is an answer to read
    /// (a bulk create where every item failed), not a request failure.
    pub(crate) item_errors: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, segments: Vec<&'a str>) -> Self {
        let idempotency = if method == Method::POST {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        Request {
            method,
            segments,
            query: Vec::new(),
            body: None,
            idempotency,
            item_errors: false,
        }
    }

    pub(crate) fn with_item_errors(mut self) -> Self {
        self.item_errors = true;
        self
    }

    pub(crate) fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn query(mut self, key: &'static str, value: String) -> Self {
        self.query.push((key, value));
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) body: String,
    pub(crate) method: Method,
    pub(crate) path: String,
}

impl Reply {
    /// The body as JSON; an empty body is `Null`.
    pub(crate) fn json(&self) -> Result<Value, Error> {
        if self.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.body).map_err(|e| self.decode_error(e.to_string()))
    }

    pub(crate) fn decode_error(&self, reason: String) -> Error {
        Error::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            reason,
            body_excerpt: muster_core::excerpt(&self.body),
        }
    }
}

/// What one attempt produced.
struct Attempt {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

/// An attempt that did not give the caller its answer, and whether the
/// request may be tried again.
struct Failure {
    error: Error,
    /// Why it may be retried, when the classifier says it may.
    reason: Option<RetryReason>,
    /// The classifier allows a retry and the request may be repeated.
    may_retry: bool,
    /// A `Retry-After` the gateway sent on a status that honours it.
    retry_after: Option<Duration>,
    /// The attempt's span, to record the wait in.
    span: tracing::Span,
}

impl Inner {
    /// Sends `req` under the limiter (and the breaker, when there is one),
    /// retrying what [`classify`] allows on backon's schedule, adjusted for
    /// `Retry-After` and paid from the retry budget. Each retry is logged.
    pub(crate) async fn execute(&self, req: Request<'_>) -> Result<Reply, Error> {
        let url = crate::path::join(&self.base, &req.segments);
        let path = url.path().to_owned();
        let attempts = AtomicU32::new(0);
        let retried = Mutex::new(None::<RetryReason>);
        let result = self.retrying(&req, &url, &path, &attempts, &retried).await;
        match result {
            Ok(reply) => {
                self.budget.succeeded(*lock(&retried));
                Ok(reply)
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// The attempts of one request on backon's schedule. Built in a plain
    /// function and boxed, so its closures' `Send` is proven here rather
    /// than inside every async caller.
    fn retrying<'s>(
        &'s self,
        req: &'s Request<'_>,
        url: &'s url::Url,
        path: &'s str,
        attempts: &'s AtomicU32,
        retried: &'s Mutex<Option<RetryReason>>,
    ) -> BoxFuture<'s, Result<Reply, Failure>> {
        let sleeper = Arc::clone(&self.sleeper);
        let retrying = (move || self.attempt_once(req, url, path, attempts))
            .retry(self.retry.backoff())
            .sleep(move |wait| {
                let sleeper = Arc::clone(&sleeper);
                async move { sleeper.sleep(wait).await }
            })
            .when(|f: &Failure| f.may_retry)
            .adjust(move |f: &Failure, scheduled| {
                let wait = self.retry.wait(scheduled, f.retry_after)?;
                let reason = f.reason?;
                if !self.budget.withdraw(reason) {
                    f.span.in_scope(|| {
                        tracing::warn!(?reason, "retry budget spent: not retrying");
                    });
                    return None;
                }
                *lock(retried) = Some(reason);
                Some(wait)
            })
            .notify(|f: &Failure, wait| {
                f.span.record("wait_ms", wait.as_millis() as u64);
                f.span.in_scope(|| {
                    tracing::debug!(reason = ?f.reason, ?wait, error = %f.error,
                        "retrying after a transient failure");
                });
            });
        Box::pin(retrying)
    }

    /// One attempt: paced, counted by the breaker, classified.
    async fn attempt_once(
        &self,
        req: &Request<'_>,
        url: &url::Url,
        path: &str,
        attempts: &AtomicU32,
    ) -> Result<Reply, Failure> {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let method = &req.method;
        let span = tracing::info_span!(
            "gateway.request",
            method = %method,
            path = %path,
            attempt,
            status = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        let definite = |error| Failure {
            error,
            reason: None,
            may_retry: false,
            retry_after: None,
            span: span.clone(),
        };
        let _probe = match &self.breaker {
            Some(b) => b.admit().await.map_err(definite)?,
            None => None,
        };
        self.limiter.acquire().await;
        let result = self
            .attempt(req, url.clone())
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(a) => AttemptOutcome::Status(a.status),
            Err(e) if e.is_connect() => AttemptOutcome::ConnectFailed,
            Err(_) => AttemptOutcome::Interrupted,
        };
        if let Some(b) = &self.breaker {
            b.record(outcome, || match &result {
                Ok(a) => format!("{method} {path}: {}", a.status),
                Err(e) => format!("{method} {path}: {}", muster_core::error_chain(e)),
            });
        }
        if let Ok(a) = &result {
            span.record("status", a.status);
        }
        let action = classify(outcome);
        let retry_after = result
            .as_ref()
            .ok()
            .filter(|a| honours_retry_after(a.status))
            .and_then(|a| a.retry_after);
        match (action, retry_after) {
            (RetryAction::RetryIndicated(RetryReason::Throttled), Some(wait)) => {
                self.limiter
                    .retry_after(wait.min(self.retry.max_retry_after()));
            }
            (RetryAction::RetryIndicated(RetryReason::Throttled), None) => {
                self.limiter.throttled();
            }
            _ => self.limiter.succeeded(),
        }
        let reply = |a: Attempt| Reply {
            body: a.body,
            method: method.clone(),
            path: path.to_owned(),
        };
        let error = |result: Result<Attempt, reqwest::Error>| match result {
            Ok(a) => status_error(
                a.status,
                message_of(&a.body),
                method.as_str(),
                path,
                req.body.as_ref(),
                attempt,
            ),
            Err(source) => Error::Transport {
                method: method.to_string(),
                path: path.to_owned(),
                source,
            },
        };
        match (action, result) {
            (RetryAction::NoActionIndicated, Ok(a)) => Ok(reply(a)),
            (RetryAction::RetryIndicated(reason), result) => {
                let may_repeat = reason.may_resend(req.idempotency == Idempotency::Idempotent);
                Err(Failure {
                    error: error(result),
                    reason: Some(reason),
                    may_retry: may_repeat,
                    retry_after,
                    span: span.clone(),
                })
            }
            (_, Ok(a)) if req.item_errors && lists_item_errors(a.status, &a.body) => Ok(reply(a)),
            (_, other) => Err(definite(error(other))),
        }
    }

    /// One HTTP exchange, body read included (a body cut off midway is a
    /// transport failure, retried like one).
    async fn attempt(&self, req: &Request<'_>, url: url::Url) -> Result<Attempt, reqwest::Error> {
        let mut builder = self
            .http
            .request(req.method.clone(), url)
            .headers(self.auth_headers());
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| muster_core::parse_retry_after(v, SystemTime::now()));
        let body = response.text().await?;
        Ok(Attempt {
            status,
            retry_after,
            body,
        })
    }

    /// The credential headers, marked sensitive so hyper and reqwest never log them.
    fn auth_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let secret = self.password.expose_secret();
        let mut put = |name: reqwest::header::HeaderName, value: &str, sensitive: bool| {
            if let Ok(mut v) = HeaderValue::from_str(value) {
                v.set_sensitive(sensitive);
                headers.insert(name, v);
            }
        };
        match self.dialect {
            Dialect::RestV2 => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", self.user, secret));
                put(AUTHORIZATION, &format!("Basic {token}"), true);
            }
            _ => {
                put(
                    reqwest::header::HeaderName::from_static("x-user"),
                    &self.user,
                    false,
                );
                put(
                    reqwest::header::HeaderName::from_static("x-password"),
                    secret,
                    true,
                );
            }
        }
        headers
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // One value replaced whole: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Maps a non-success status to the error a caller can act on: the one
/// place that knows what each status means. `sent` is the request body, to
/// name the domain in a "not registered" refusal.
pub(crate) fn status_error(
    status: u16,
    message: String,
    method: &str,
    path: &str,
    sent: Option<&Value>,
    attempts: u32,
) -> Error {
    let (method, path) = (method.to_owned(), path.to_owned());
    match status {
        401 => Error::Auth { method, path },
        403 => Error::Forbidden {
            method,
            path,
            message,
        },
        404 => Error::NotFound { method, path },
        409 => Error::Conflict {
            method,
            path,
            message,
        },
        429 => Error::RateLimited { attempts },
        _ => match unregistered_domain(&message, sent) {
            Some(domain) if status == 400 || status == 422 => Error::DomainNotRegistered { domain },
            _ => Error::Api {
                status,
                message,
                method,
                path,
            },
        },
    }
}

/// True for a 400/409/422 whose JSON body has an `errors` list.
fn lists_item_errors(status: u16, body: &str) -> bool {
    matches!(status, 400 | 409 | 422)
        && serde_json::from_str::<Value>(body)
            .is_ok_and(|v| v.get("errors").is_some_and(Value::is_array))
}

/// The longest gateway message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// The human message of an error body: a `message`/`error`/`error_message`/
/// `detail` string when the body is JSON, else an excerpt of the text.
pub(crate) fn message_of(body: &str) -> String {
    if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) {
        let first_item = obj
            .get("errors")
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("error_message"))
            .and_then(Value::as_str);
        if let Some(s) = first_item {
            return s.chars().take(MAX_MESSAGE_CHARS).collect();
        }
        for key in ["message", "error_message", "error", "detail"] {
            if let Some(s) = obj.get(key).and_then(Value::as_str) {
                // Gateway messages are short sentences; keep them whole (bounded).
                return s.chars().take(MAX_MESSAGE_CHARS).collect();
            }
        }
    }
    muster_core::excerpt(body.trim())
}

/// When a refusal says a domain is not registered, which of the request's
/// domains it names.
pub(crate) fn unregistered_domain(message: &str, body: Option<&Value>) -> Option<String> {
    let lower = message.to_lowercase();
    if !(lower.contains("not registered") || lower.contains("unregistered")) {
        return None;
    }
    let addresses: Vec<EmailAddress> = match body {
        Some(Value::Object(obj)) => crate::wire::addresses_in(obj),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(crate::wire::addresses_in)
            .collect(),
        _ => Vec::new(),
    };
    addresses
        .iter()
        .map(EmailAddress::domain_ascii)
        .find(|d| lower.contains(d))
        .or_else(|| addresses.first().map(EmailAddress::domain_ascii))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_come_from_json_or_text() {
        assert_eq!(message_of(r#"{"message":"bad thing"}"#), "bad thing");
        assert_eq!(message_of(r#"{"error_message":"dup"}"#), "dup");
        assert_eq!(message_of("  plain text "), "plain text");
    }

    #[test]
    fn the_named_domain_is_picked() {
        let body = json!({"primary_email": "a@ok.com", "alias_emails": ["b@typo.con"]});
        assert_eq!(
            unregistered_domain("Domain typo.con is not registered", Some(&body)).as_deref(),
            Some("typo.con")
        );
        assert_eq!(unregistered_domain("invalid field", Some(&body)), None);
    }
}
