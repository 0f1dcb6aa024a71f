//! What can stop a command.

use std::path::PathBuf;

/// A command that could not do its job. Display is short; the cause chain
/// (printed after it) says why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// `MUSTER_LOG` is set to something that is not a log filter.
    #[error("MUSTER_LOG is not a log filter (try `info` or `muster_gateway=debug`)")]
    LogFilter(#[source] tracing_subscriber::filter::ParseError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A file the command needs could not be read or written.
    #[error("{action} `{}`", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A setting is missing or malformed.
    #[error("{0}")]
    Setting(String),
    /// An address or domain given on the command line is malformed.
    #[error("{flag}")]
    Address {
        flag: &'static str,
        #[source]
        source: muster::core::AddressError,
    },
    /// A directory source could not be read completely.
    #[error("cannot read the directory source")]
    Directory(#[source] muster::directory::Error),
    /// A CA certificate file given to trust for LDAP that holds no usable
    /// certificate: refused before connecting, so a wrong file never shows
    /// up as an "unknown issuer" from the server.
    #[error("cannot trust the CA certificates in `{}`", path.display())]
    Certificate {
        path: PathBuf,
        #[source]
        source: Box<muster::directory::Error>,
    },
    /// A saved Graph cursor that cannot be used: not a cursor, another
    /// format version, or made for another tenant or selection. Never
    /// quietly replaced by a full read, which would hide a misconfiguration
    /// (a cursor file shared by two tenants): the user deletes it to start over.
    #[error("cannot use the Graph cursor `{}` (delete it to read every user again)", path.display())]
    Cursor {
        path: PathBuf,
        #[source]
        source: Box<muster::directory::Error>,
    },
    /// The gateway could not be read.
    #[error("cannot read the gateway")]
    Gateway(#[source] muster::gateway::Error),
    /// The planner refused to plan (or the state file belongs elsewhere).
    #[error("cannot plan")]
    Plan(#[source] muster::reconcile::PlanError),
    /// The executor refused the plan before sending anything.
    #[error("cannot apply the plan")]
    Apply(#[source] muster::ApplyError),
    /// The local emulator could not start.
    #[error("cannot start the gateway emulator")]
    Emulator(#[source] muster_emulator::Error),
}
