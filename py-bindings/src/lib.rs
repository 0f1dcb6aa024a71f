//! The compiled half of the Python package `muster` (`muster._muster`).
//!
//! The Python half (`python/muster/`) re-exports these classes and adds
//! `muster.Users` and `muster.testing`. Every call that does IO releases
//! the GIL and runs on one tokio runtime per process (module `runtime`);
//! inputs and outputs are plain Python data (dicts, lists, str) converted
//! in `convert`; Rust errors become `muster.MusterError` subclasses in
//! `errors`, with the error chain as message and never a credential. The
//! crates' diagnostics reach Python's `logging` under `muster` (`logs`).
#![deny(missing_docs)]

mod apply;
mod approval;
mod config;
mod convert;
mod discovery;
mod errors;
mod gateway;
mod logs;
mod mapped;
mod planning;
mod report;
mod runtime;
mod sources;
mod testing;

use pyo3::prelude::*;

/// The module `muster._muster`.
#[pymodule(name = "_muster")]
fn muster_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logs::install();
    errors::register(m)?;
    m.add_class::<gateway::Gateway>()?;
    m.add_class::<gateway::Snapshot>()?;
    m.add_class::<planning::Plan>()?;
    m.add_class::<report::Report>()?;
    m.add_class::<sources::HrRecords>()?;
    m.add_class::<sources::StandardCsv>()?;
    m.add_class::<sources::LdapSource>()?;
    m.add_class::<sources::GraphSource>()?;
    m.add_class::<sources::GraphCursor>()?;
    m.add_class::<sources::DeltaRead>()?;
    m.add_class::<discovery::DiscoveryLedger>()?;
    m.add_class::<sources::DirectoryRecords>()?;
    m.add_class::<sources::Entries>()?;
    m.add_class::<mapped::MappedCsv>()?;
    m.add_class::<mapped::PostiniCsv>()?;
    m.add_class::<testing::Emulator>()?;
    m.add_class::<config::Config>()?;
    m.add_function(wrap_pyfunction!(planning::plan, m)?)?;
    m.add_function(wrap_pyfunction!(planning::functional_accounts, m)?)?;
    m.add_function(wrap_pyfunction!(planning::show, m)?)?;
    m.add_function(wrap_pyfunction!(approval::approve_to_file, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
