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
    /// A directory source could not be read completely.
    #[error("cannot read the directory source")]
    Directory(#[source] muster::directory::Error),
    /// The config (file and flags) cannot be used.
    #[error(transparent)]
    Config(muster::config::ConfigError),
    /// A source could not be read completely: never an empty directory.
    #[error(transparent)]
    Read(muster::config::ReadError),
    /// A Graph cursor that cannot be saved.
    #[error("cannot save the Graph cursor `{}`", path.display())]
    Cursor {
        path: PathBuf,
        #[source]
        source: Box<muster::directory::Error>,
    },
    /// The login was refused (wrong password, no rights): checked before
    /// anything else is read or written.
    #[error("the gateway refused the login")]
    Login(#[source] muster::gateway::Error),
    /// The report could not be written as JSON.
    #[error("cannot write the report as JSON")]
    Report(#[source] serde_json::Error),
    /// The gateway could not be read.
    #[error("cannot read the gateway")]
    Gateway(#[source] muster::gateway::Error),
    /// The planner refused to plan (or the state file belongs elsewhere).
    #[error("cannot plan")]
    Plan(#[source] muster::reconcile::PlanError),
    /// The before-images of a journal could not be read.
    #[error("cannot read the before-images")]
    Restore(#[source] muster::ApplyError),
    /// The executor refused the plan before sending anything.
    #[error("cannot apply the plan")]
    Apply(#[source] muster::ApplyError),
    /// An approval that cannot be used: unreadable, for another plan, or
    /// naming nothing the plan changes.
    #[error("cannot use the approval")]
    Approval(#[source] muster::reconcile::PlanError),
    /// The organisation's lease could not be taken: another run holds it
    /// (exit 6), or its lock file cannot be used.
    #[error(transparent)]
    Lease(muster::LeaseError),
    /// The run was interrupted by SIGINT (130) or SIGTERM (143).
    #[error("interrupted by {signal}")]
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
        /// The exit code.
        code: u8,
    },
    /// The local emulator could not start.
    #[error("cannot start the gateway emulator")]
    Emulator(#[source] muster_emulator::Error),
}

impl CliError {
    /// The exit code this error ends a run with (the table in `exit.rs`):
    /// 4 for a plan refused at its threshold, 6 for a lease another run
    /// holds, the signal's for an interruption, 1 for every other refusal.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Apply(
                muster::ApplyError::ThresholdExceeded { .. }
                | muster::ApplyError::CreateLimitExceeded { .. }
                | muster::ApplyError::LicencesExceeded { .. },
            ) => 4,
            CliError::Interrupted { code, .. } => *code,
            CliError::Lease(muster::LeaseError::Held { .. }) => 6,
            _ => 1,
        }
    }

    /// The error and its causes on one line, through the one sanitiser:
    /// causes quote servers and files (an LDAP diagnostic, a gateway's
    /// error body, a directory value).
    pub(crate) fn one_line(&self) -> String {
        let chain = muster::core::error_chain(self).to_string();
        muster::core::sanitize(&chain).into_owned()
    }
}
