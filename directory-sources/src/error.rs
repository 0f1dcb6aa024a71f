//! The one error type of this crate: a source that could not be read *fully*.
//!
//! A bad record is not an error: it becomes a [`muster_core::SourceIssue`]
//! in the snapshot and the rest goes through. An [`Error`] means the whole
//! fetch must be discarded, because a half-read directory looks exactly like a
//! directory whose users left.

use std::io;

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read to the end.
    #[error("cannot read `{file}`")]
    Read {
        /// The file (or source name) as the caller gave it.
        file: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The header row lacks a column the mapping requires.
    #[error("`{file}`: the header has no column `{column}` (needed for {needed_for})")]
    MissingColumn {
        /// The file.
        file: String,
        /// The header name that was looked for.
        column: String,
        /// What the column would have provided.
        needed_for: String,
    },
    /// A header-mapped file has no header row at all (it is empty).
    #[error("`{file}`: no header row; a mapped CSV must name its columns")]
    MissingHeader {
        /// The file.
        file: String,
    },
    /// The file is in an encoding this crate does not read.
    #[error("`{file}` is {found}; save it as CSV UTF-8 or Windows-1252")]
    UnsupportedEncoding {
        /// The file.
        file: String,
        /// What was detected.
        found: &'static str,
    },
    /// The file holds valid multi-byte UTF-8 *and* bytes that are not
    /// UTF-8, with the encoding left to detection. Read as UTF-8 the bytes
    /// are lost; read as Windows-1252 the UTF-8 turns to mojibake (`José`
    /// as `JosÃ©`), a mass rename no threshold counts. So the whole file is
    /// refused, naming a line of each.
    #[error(
        "`{file}` mixes encodings: {utf8} is UTF-8 but line {not_utf8} is not; save it again as CSV UTF-8, or set the source's encoding (\"utf-8\": the other bytes become field issues; \"windows-1252\": the UTF-8 is read as Windows-1252)"
    )]
    MixedEncoding {
        /// The file.
        file: String,
        /// Where UTF-8 was seen first: `line 7` or `a UTF-8 byte-order mark`.
        utf8: String,
        /// The first line with bytes that are not UTF-8.
        not_utf8: u64,
    },
    /// A file whose structure broke where nothing can mark it incomplete
    /// (SMTP observations): a quote that never closes, or one that swallows
    /// rows. Refused whole rather than read short.
    #[error("{issue}")]
    BrokenFile {
        /// Where the quote opened, and what it took.
        issue: Box<muster_core::SourceIssue>,
    },
    /// Writing a preview failed.
    #[error("cannot write the preview")]
    Write(#[source] io::Error),
    /// The directory server could not be reached, refused the bind, or
    /// ended the search with anything but success (a size limit, a referral,
    /// a lost connection): the directory was not read completely.
    #[error("`{source_name}`: cannot {action} at {server}")]
    Ldap {
        /// The source's name.
        source_name: String,
        /// The server's URL (no credentials).
        server: String,
        /// What failed: connect, bind, search.
        action: &'static str,
        /// The LDAP error (result code and the server's message).
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// A CA certificate given to trust for LDAP's TLS that cannot be one:
    /// not PEM, no `CERTIFICATE` in it, or not a usable X.509 certificate.
    /// Refused when configured, so a typo never turns into "unknown issuer"
    /// at the first sync.
    #[error("`{source_name}`: the CA certificate to trust cannot be used: {reason}")]
    LdapCertificate {
        /// The source's name.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `ldap://` to another machine without StartTLS: the bind password would
    /// cross the network in clear text.
    #[error(
        "`{source_name}`: {url} would send the password unencrypted; use ldaps://, StartTLS, or allow_plaintext()"
    )]
    PlaintextLdap {
        /// The source's name.
        source_name: String,
        /// The URL as given.
        url: String,
    },
    /// Entra ID issued no token for the client credentials — a wrong tenant,
    /// client id or secret, no admin consent — or could not be reached,
    /// after the retries. The client secret is never part of it.
    #[error("`{source_name}`: no Graph token for tenant `{tenant}`{}", graph_detail(*.status, .code.as_deref(), .message.as_deref()))]
    GraphToken {
        /// The source's name.
        source_name: String,
        /// The tenant as configured.
        tenant: String,
        /// The HTTP status, when the endpoint answered.
        status: Option<u16>,
        /// The OAuth error (`invalid_client`, `unauthorized_client`…).
        code: Option<String>,
        /// The endpoint's description (`AADSTS7000215: Invalid client secret…`), shortened.
        message: Option<String>,
        /// The transport error, when the endpoint did not answer.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A Microsoft Graph request failed after the retries (throttled for
    /// too long, refused, unreachable), or its answer was not a page of
    /// users: the directory was not read completely.
    #[error("`{source_name}`: cannot read page {page} of {url}{}", graph_detail(*.status, .code.as_deref(), .message.as_deref()))]
    Graph {
        /// The source's name.
        source_name: String,
        /// The collection read (no query string).
        url: String,
        /// Which page failed (1-based).
        page: usize,
        /// The HTTP status, when Graph answered.
        status: Option<u16>,
        /// Graph's `error.code` (`Request_UnsupportedQuery`, `Authorization_RequestDenied`…).
        code: Option<String>,
        /// Graph's `error.message`, or what was wrong with the answer, shortened.
        message: Option<String>,
        /// The transport or decoding error, if one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A Graph endpoint that cannot be used: not a URL, or plain `http://`
    /// to another machine (the client secret and the tokens would cross
    /// the network in clear text); or a token scope the client-credentials
    /// flow refuses (one not ending in `/.default`).
    #[error("`{source_name}`: {url}: {reason}")]
    GraphEndpoint {
        /// The source's name.
        source_name: String,
        /// The endpoint as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An incremental Graph read that cannot start: a saved cursor made for
    /// another tenant, another `$select` or filter, by another cursor
    /// format, or not a cursor at all; or a source with a `$filter`, which
    /// Graph's delta queries cannot apply. Refused before any request, so
    /// the caller still holds the cursor it had and nothing was half-read.
    #[error("`{source_name}`: cannot read incrementally: {reason}")]
    GraphCursor {
        /// The source's name (`graph cursor` when a saved cursor is read on its own).
        source_name: String,
        /// What does not match, or what is wrong with it.
        reason: String,
    },
    /// A saved SMTP-discovery ledger that is not one: not JSON of its shape,
    /// an address listed twice, or a format version this muster does not read.
    #[error("the SMTP discovery ledger cannot be read or written")]
    DiscoveryLedger(#[source] serde_json::Error),
    /// The background task reading the source died (a bug, or the runtime shut down).
    #[error("the task reading `{source_name}` did not finish")]
    Task {
        /// The source.
        source_name: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// ` (HTTP 400 Request_UnsupportedQuery: Invalid filter clause)`, or nothing.
fn graph_detail(status: Option<u16>, code: Option<&str>, message: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(status) = status {
        parts.push(format!("HTTP {status}"));
    }
    parts.extend(code.map(str::to_owned));
    let mut detail = parts.join(" ");
    if let Some(message) = message {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(message);
    }
    if detail.is_empty() {
        detail
    } else {
        format!(" ({detail})")
    }
}

impl Error {
    /// True when the directory itself could not be read (as opposed to a
    /// file problem): worth retrying later, never worth planning without.
    #[must_use]
    pub fn is_directory_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Ldap { .. } | Error::GraphToken { .. } | Error::Graph { .. }
        )
    }

    /// True when a later try may well succeed: the directory could not be
    /// reached or was busy (a refused or dropped connection, a timeout, an
    /// LDAP server busy or unavailable, a 429 or 5xx from Entra ID after
    /// the retries). A refusal that a retry would meet again — a wrong
    /// password, a certificate not trusted, a missing base, a broken file —
    /// is not. What a scheduler's retry decides on (Python's
    /// `SourceError.retryable`).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        let http = |status: Option<u16>, source: Option<&reqwest::Error>| match status {
            Some(status) => matches!(
                muster_core::retry::classify(muster_core::retry::AttemptOutcome::Status(status)),
                muster_core::retry::RetryAction::RetryIndicated(_)
            ),
            None => source.is_some_and(|e| e.is_timeout() || e.is_connect() || e.is_request()),
        };
        match self {
            Error::Ldap { source, .. } => match source.as_ref() {
                // timeLimitExceeded, busy, unavailable.
                ldap3::LdapError::LdapResult { result } => matches!(result.rc, 3 | 51 | 52),
                other => !crate::ldap::is_certificate_error(other),
            },
            Error::GraphToken { status, source, .. } | Error::Graph { status, source, .. } => {
                http(*status, source.as_ref())
            }
            _ => false,
        }
    }

    /// A file refused for its broken structure ([`Error::BrokenFile`]).
    pub(crate) fn broken(issue: muster_core::SourceIssue) -> Self {
        Error::BrokenFile {
            issue: Box::new(issue),
        }
    }

    /// An IO failure while reading `file`.
    pub(crate) fn read(file: &str, source: io::Error) -> Self {
        Error::Read {
            file: file.to_owned(),
            source,
        }
    }

    /// Converts a `csv` writing failure.
    pub(crate) fn write(err: csv::Error) -> Self {
        match err.into_kind() {
            csv::ErrorKind::Io(e) => Error::Write(e),
            other => Error::Write(io::Error::other(format!("{other:?}"))),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ldap(source: ldap3::LdapError) -> Error {
        Error::Ldap {
            source_name: "ad".into(),
            server: "ldaps://dc".into(),
            action: "bind",
            source: Box::new(source),
        }
    }

    /// An LDAP server's answer with result code `rc` (for the tests here and in `ldap`).
    pub(crate) fn answer(rc: u32) -> ldap3::LdapError {
        ldap3::LdapError::LdapResult {
            result: ldap3::LdapResult {
                rc,
                matched: String::new(),
                text: String::new(),
                refs: Vec::new(),
                ctrls: Vec::new(),
            },
        }
    }

    fn graph(status: Option<u16>) -> Error {
        Error::Graph {
            source_name: "entra".into(),
            url: "https://graph.microsoft.com/v1.0/users".into(),
            page: 1,
            status,
            code: None,
            message: None,
            source: None,
        }
    }

    #[test]
    fn only_a_directory_unreachable_or_busy_is_worth_retrying() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(ldap(ldap3::LdapError::Io { source: refused }).is_retryable());
        for busy in [3, 51, 52] {
            assert!(ldap(answer(busy)).is_retryable(), "rc {busy}");
        }
        // Wrong password, strong auth required, no such base, no access.
        for refusal in [49, 8, 32, 50] {
            assert!(!ldap(answer(refusal)).is_retryable(), "rc {refusal}");
        }
        for status in [429, 500, 503, 504] {
            assert!(graph(Some(status)).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 501] {
            assert!(!graph(Some(status)).is_retryable(), "{status}");
        }
        // An answer that was no page (no status, no transport error).
        assert!(!graph(None).is_retryable());
        let missing = Error::read("users.csv", io::Error::from(io::ErrorKind::NotFound));
        assert!(!missing.is_retryable());
    }
}
