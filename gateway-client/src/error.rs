//! The one error type of this crate, shaped so an executor can decide
//! retry / skip / abort from it alone.

use muster_core::Field;

use crate::Dialect;

/// Everything that can go wrong talking to the gateway.
///
/// Display is one short line; the cause, when there is one, is the
/// [`source`](std::error::Error::source). No variant ever carries a password
/// or an authorization header: requests are described by method and URL
/// path only, and the credentials live in a [`secrecy::SecretString`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gateway rejected the credentials (401).
    #[error("authentication failed for {method} {path}")]
    Auth {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request (never credentials).
        path: String,
    },
    /// The login may not do this (403), e.g. a read-only administrator writing.
    #[error("forbidden: {method} {path}: {message}")]
    Forbidden {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
        /// The gateway's message, if it gave one.
        message: String,
    },
    /// The user (or group) does not exist (404).
    #[error("not found: {method} {path}")]
    NotFound {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
    },
    /// The organisation or an address's domain is not registered on the gateway.
    #[error("domain {domain} is not registered on the gateway")]
    DomainNotRegistered {
        /// The domain the gateway refused.
        domain: String,
    },
    /// The address is already taken by another user or alias (409).
    #[error("conflict: {method} {path}: {message}")]
    Conflict {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
        /// The gateway's message, if it gave one.
        message: String,
    },
    /// The account no longer looks the way the caller expected: nothing was written.
    #[error("stale change for {email}: expected {field} = {expected}, found {found}")]
    Stale {
        /// The account.
        email: String,
        /// The field whose before-value did not match.
        field: Field,
        /// What the caller expected.
        expected: String,
        /// What the gateway holds now.
        found: String,
    },
    /// Still throttled (429) after every allowed attempt.
    #[error("rate limited by the gateway after {attempts} attempts")]
    RateLimited {
        /// How many requests were sent.
        attempts: u32,
    },
    /// Any other non-success status.
    #[error("gateway returned {status} for {method} {path}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// The gateway's message (or a short excerpt of the body).
        message: String,
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
    },
    /// The request never produced a response: connect failure, timeout, dropped connection.
    #[error("transport error on {method} {path}")]
    Transport {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },
    /// The response body was not what the dialect promises.
    #[error("could not decode the response to {method} {path}: {reason}")]
    Decode {
        /// HTTP method of the request.
        method: String,
        /// URL path of the request.
        path: String,
        /// What was wrong.
        reason: String,
        /// The start of the body, for the log.
        body_excerpt: String,
    },
    /// A paged listing ended before the count the gateway announced: treated
    /// as a failed read, never as a shorter user list.
    #[error("listing ended after {received} of {expected} announced records")]
    Truncated {
        /// The total the gateway announced.
        expected: u64,
        /// How many records arrived.
        received: u64,
    },
    /// The dialect cannot do this (e.g. groups on Essentials v1).
    #[error("{operation} is not supported by the {dialect} dialect")]
    Unsupported {
        /// What was asked for.
        operation: &'static str,
        /// The dialect of the client.
        dialect: Dialect,
    },
    /// The client was configured wrongly (bad URL, plain http to a remote host…).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status the gateway answered with, when there was an answer.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Auth { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::Conflict { .. } => Some(409),
            Error::RateLimited { .. } => Some(429),
            Error::Api { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// True when trying the same call again later may succeed (throttling,
    /// server errors, timeouts, dropped connections). An executor retries
    /// these after a pause, and skips or aborts on the rest.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Transport { .. } | Error::Truncated { .. } => true,
            Error::Api { status, .. } => *status == 408 || *status >= 500,
            _ => false,
        }
    }

    /// True when a write may or may not have happened: the request was sent
    /// but no clear answer came back (timeout, dropped connection, 5xx).
    pub(crate) fn is_ambiguous(&self) -> bool {
        match self {
            Error::Transport { source, .. } => !source.is_connect() && !source.is_builder(),
            Error::Api { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}
