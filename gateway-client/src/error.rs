//! The one error type of this crate, shaped so an executor can decide
//! retry / skip / abort from it alone.

use muster_core::Field;
use muster_core::retry::{AttemptOutcome, RetryAction, classify, is_server_failure};

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
    /// The client stopped sending: its [`Breaker`](crate::Breaker) saw too
    /// many consecutive connection failures, timeouts or 5xx answers. Nothing
    /// was sent for this request; a later run may succeed.
    #[error("not sent: the gateway looks down ({failures} failures in a row, the last: {last})")]
    CircuitOpen {
        /// How many attempts in a row failed.
        failures: u32,
        /// The last failure, as `METHOD path: what happened` (never credentials).
        last: String,
    },
    /// A saved [`LearnedRate`](crate::LearnedRate) could not be read or written.
    #[error("learned rate file {}: {reason}", path.display())]
    LearnedRate {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
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

    /// The attempt outcome this error stands for, when it stands for one:
    /// what [`classify`] judges.
    fn attempt_outcome(&self) -> Option<AttemptOutcome> {
        match self {
            Error::Transport { source, .. } if source.is_connect() => {
                Some(AttemptOutcome::ConnectFailed)
            }
            Error::Transport { source, .. } if source.is_builder() => None,
            Error::Transport { .. } => Some(AttemptOutcome::Interrupted),
            Error::RateLimited { .. } => Some(AttemptOutcome::Status(429)),
            Error::Api { status, .. } => Some(AttemptOutcome::Status(*status)),
            _ => None,
        }
    }

    /// True when trying the same call again later may succeed (throttling,
    /// server errors, timeouts, dropped connections, a truncated listing, a
    /// client that stopped sending). An executor retries these after a
    /// pause, and skips or aborts on the rest. Decided by the one
    /// classifier, [`muster_core::retry::classify`].
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Truncated { .. } | Error::CircuitOpen { .. } => true,
            other => other
                .attempt_outcome()
                .is_some_and(|o| matches!(classify(o), RetryAction::RetryIndicated(_))),
        }
    }

    /// True when a write may or may not have happened: the request was sent
    /// but no clear answer came back (timeout, dropped connection, 5xx), as
    /// [`RetryAction::is_ambiguous`](muster_core::retry::RetryAction::is_ambiguous) says.
    #[must_use]
    pub fn is_ambiguous(&self) -> bool {
        self.attempt_outcome()
            .is_some_and(|o| classify(o).is_ambiguous())
    }

    /// True when the gateway could not be reached, timed out or answered
    /// 5xx (what a breaker counts), or a breaker already stopped the client.
    #[must_use]
    pub fn is_server_failure(&self) -> bool {
        matches!(self, Error::CircuitOpen { .. })
            || self.attempt_outcome().is_some_and(is_server_failure)
    }
}
