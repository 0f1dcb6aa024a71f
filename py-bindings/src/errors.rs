//! The exception hierarchy (`muster.MusterError` and subclasses) and the one
//! place Rust errors become Python exceptions.
//!
//! Messages are the Rust error's chain (`outer: cause: root`), which the
//! crates keep free of credentials: requests are named by method and path,
//! passwords live in `SecretString`s and never reach a `Display`.

use std::error::Error as StdError;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{PyErr, create_exception};

create_exception!(
    muster,
    MusterError,
    PyException,
    "Base class of every error muster raises."
);
create_exception!(
    muster,
    GatewayError,
    MusterError,
    "The gateway refused a request or could not be reached (`status` and `retryable` attributes)."
);
create_exception!(
    muster,
    SourceError,
    MusterError,
    "A directory or HR source could not be read completely (bad records are issues, not errors); `retryable` is true when a later try may well succeed (the directory unreachable or busy)."
);
create_exception!(
    muster,
    PlanError,
    MusterError,
    "The planner refused to plan, or a saved plan or state could not be read."
);
create_exception!(
    muster,
    ApplyError,
    MusterError,
    "A plan was refused before anything was written, or changes did not succeed."
);
create_exception!(
    muster,
    StaleError,
    ApplyError,
    "Accounts changed on the gateway since the plan was made: plan again."
);
create_exception!(
    muster,
    ConfigError,
    MusterError,
    "A config file, or a setting or secret it names, is wrong (the message names the file, line and key)."
);
create_exception!(
    muster,
    LeaseError,
    MusterError,
    "Another run holds the organisation's lease (`<state>.lock`): two runs of one organisation never overlap."
);
create_exception!(
    muster,
    EmulatorError,
    MusterError,
    "The test emulator could not start (bad seed, port taken)."
);

/// `error: cause: root cause`, each level once.
pub(crate) fn chain(error: &(dyn StdError + 'static)) -> String {
    muster::core::error_chain(error)
}

/// A gateway client error as `GatewayError`, with `status` (HTTP status or
/// None) and `retryable` attributes for scripts that decide what to do.
pub(crate) fn gateway(error: &muster::gateway::Error) -> PyErr {
    let err = GatewayError::new_err(chain(error));
    Python::attach(|py| {
        let value = err.value(py);
        // Attributes on a fresh exception instance cannot fail in practice;
        // if they did, the message alone still says everything.
        let _ = value.setattr("status", error.status());
        let _ = value.setattr("retryable", error.is_retryable());
    });
    err
}

/// A source error as `SourceError`.
pub(crate) fn source(error: &muster::directory::Error) -> PyErr {
    source_with(chain(error), error.is_retryable())
}

/// A `SourceError` with its `retryable` attribute: true when a later try
/// may well succeed (the directory unreachable or busy), false for a file,
/// a wrong password or a setting.
pub(crate) fn source_with(message: String, retryable: bool) -> PyErr {
    let err = SourceError::new_err(message);
    Python::attach(|py| {
        let _ = err.value(py).setattr("retryable", retryable);
    });
    err
}

/// A planner refusal as `PlanError`.
pub(crate) fn plan(error: &muster::reconcile::PlanError) -> PyErr {
    PlanError::new_err(chain(error))
}

/// An executor refusal as `ApplyError`; a refused read is the gateway's error.
pub(crate) fn apply(error: &muster::ApplyError) -> PyErr {
    match error {
        muster::ApplyError::Read { source, .. } => {
            let err = gateway(source);
            Python::attach(|py| {
                let msg = chain(error);
                let _ = err.value(py).setattr("args", (msg,));
            });
            err
        }
        _ => ApplyError::new_err(chain(error)),
    }
}

/// Registers the exception classes on the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MusterError", py.get_type::<MusterError>())?;
    m.add("GatewayError", py.get_type::<GatewayError>())?;
    m.add("SourceError", py.get_type::<SourceError>())?;
    m.add("PlanError", py.get_type::<PlanError>())?;
    m.add("ApplyError", py.get_type::<ApplyError>())?;
    m.add("StaleError", py.get_type::<StaleError>())?;
    m.add("EmulatorError", py.get_type::<EmulatorError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("LeaseError", py.get_type::<LeaseError>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug)]
    struct Leaf;
    impl std::fmt::Display for Leaf {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl std::error::Error for Leaf {}

    #[derive(Debug)]
    struct Outer(Leaf, &'static str);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.1)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_names_every_cause_once() {
        assert_eq!(
            chain(&Outer(Leaf, "GET /api/v1/me failed")),
            "GET /api/v1/me failed: connection refused"
        );
        assert_eq!(
            chain(&Outer(Leaf, "transport: connection refused")),
            "transport: connection refused"
        );
    }
}
