//! What tests look at afterwards: the request log and the counters.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One request as the emulator saw it, with credentials removed: the login
/// name is kept (it is not secret), passwords and `Authorization` never are,
/// and any `password` field in the body is replaced by `"<redacted>"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path and query as sent (percent-encoded).
    pub uri: String,
    /// The route template it matched (`/api/v1/orgs/{domain}/users/{email}`),
    /// or `<unmatched>`.
    pub route: String,
    /// The login named by `X-User` or Basic auth, if any.
    pub login: Option<String>,
    /// The status answered, or 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The injected fault, if any (`status 503`, `drop before commit (503 not sent)`,
    /// `drop after commit (201 not sent)`, …).
    pub fault: Option<String>,
    /// When it arrived, since the emulator started, by the emulator's
    /// [`Clock`](crate::Clock) (so a benchmark can count 429s per interval).
    pub at: std::time::Duration,
    /// The JSON body, redacted; `None` when there was none, it was not JSON,
    /// or it was larger than 256 KiB.
    pub body: Option<Value>,
}

/// A counter key: method, route template and status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub struct CounterKey {
    /// HTTP method.
    pub method: String,
    /// Route template (`/api/v1/orgs/{domain}/users`) or `<unmatched>`.
    pub route: String,
    /// Status answered.
    pub status: u16,
}

/// The request log and counters.
#[derive(Debug, Default)]
pub(crate) struct Observations {
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) counters: BTreeMap<CounterKey, u64>,
}

impl Observations {
    pub(crate) fn record(&mut self, record: RequestRecord) {
        *self
            .counters
            .entry(CounterKey {
                method: record.method.clone(),
                route: record.route.clone(),
                status: record.status,
            })
            .or_default() += 1;
        self.requests.push(record);
    }
}

/// Replaces every `password` value, at any depth, by `"<redacted>"`.
pub(crate) fn redact(mut body: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k.eq_ignore_ascii_case("password") {
                        *v = Value::from("<redacted>");
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut body);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_redacted_in_arrays_too() {
        let v = redact(json!([{"primary_email": "a@x.example", "password": "hunter2"}]));
        assert_eq!(
            v,
            json!([{"primary_email": "a@x.example", "password": "<redacted>"}])
        );
    }
}
