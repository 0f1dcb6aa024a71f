//! `muster.MappedCsv` and `muster.PostiniCsv`: the config file's
//! `kind = "mapped-csv"` and `kind = "postini"` sources from Python.
//!
//! Each keyword argument is the config key of the same name, read by the
//! same types (`muster::config::MappedCsvConfig`, `PostiniConfig`) and
//! turned into a reader by the same code, so a column map that works in
//! `muster.toml` works here and a wrong one fails the same way, as a
//! `ValueError` naming the argument when the object is made.

use std::path::PathBuf;

use muster::config::{MappedCsvConfig, PostiniConfig};
use muster::directory::MappedCsv as RustMappedCsv;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde::de::DeserializeOwned;

use crate::convert::from_py;
use crate::errors;
use crate::sources::DirectoryRecords;

/// One keyword argument as the config key's type; `ValueError` naming it.
fn setting<T: DeserializeOwned>(argument: &str, value: &Bound<'_, PyAny>) -> PyResult<T> {
    let json = from_py(value)?;
    serde_json::from_value(json).map_err(|e| {
        PyValueError::new_err(format!(
            "{argument}: {}",
            muster::core::sanitize(&e.to_string())
        ))
    })
}

/// An optional keyword argument (None: the config's default).
fn optional<T: DeserializeOwned + Default>(
    argument: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<T> {
    match value {
        Some(v) if !v.is_none() => setting(argument, v),
        _ => Ok(T::default()),
    }
}

fn read(py: Python<'_>, reader: &RustMappedCsv) -> PyResult<DirectoryRecords> {
    let snapshot = py
        .detach(|| reader.read())
        .map_err(|e| errors::source(&e))?;
    Ok(DirectoryRecords::new(snapshot))
}

/// A CSV with a header row whose columns are named here: `primary` (the
/// address column), `columns` (`{"first_name": "Given", "aliases":
/// ["Alias 1", "Alias 2"]}`: required), `optional_columns` (a missing one
/// only means the field is not provided), `separators` (`{"aliases": ";"}`:
/// cells holding several values), `encoding` and `delimiter`.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct MappedCsv {
    reader: RustMappedCsv,
    path: PathBuf,
}

#[pymethods]
impl MappedCsv {
    #[new]
    #[pyo3(signature = (path, *, primary, columns=None, optional_columns=None, separators=None, encoding=None, delimiter=None, name=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: PathBuf,
        primary: String,
        columns: Option<&Bound<'_, PyAny>>,
        optional_columns: Option<&Bound<'_, PyAny>>,
        separators: Option<&Bound<'_, PyAny>>,
        encoding: Option<&Bound<'_, PyAny>>,
        delimiter: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let mut c = MappedCsvConfig::default();
        c.path.clone_from(&path);
        c.primary = primary;
        c.columns = optional("columns", columns)?;
        c.optional_columns = optional("optional_columns", optional_columns)?;
        c.separators = optional("separators", separators)?;
        c.encoding = optional("encoding", encoding)?;
        c.delimiter = optional("delimiter", delimiter)?;
        let mut reader = c.reader();
        if let Some(name) = name {
            reader = reader.named(name);
        }
        Ok(MappedCsv { reader, path })
    }

    /// Reads the whole file (with the GIL released). A file that cannot be
    /// read completely (a required column missing) raises `SourceError`;
    /// bad rows are `issues`.
    fn read(&self, py: Python<'_>) -> PyResult<DirectoryRecords> {
        read(py, &self.reader)
    }

    fn __repr__(&self) -> String {
        format!(
            "MappedCsv({:?})",
            muster::core::sanitize(&self.path.display().to_string())
        )
    }
}

/// A Postini user export and, optionally, its alias export, joined to the
/// users by user id or address. `user_columns` renames the user export's
/// columns (`{"primary": "Email", "first_name": "First"}`), `alias_columns`
/// the alias export's (`address`, `domain`, `user_id`, `user_address`).
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct PostiniCsv {
    reader: RustMappedCsv,
    users: PathBuf,
}

#[pymethods]
impl PostiniCsv {
    #[new]
    #[pyo3(signature = (users, *, aliases=None, user_columns=None, alias_columns=None, encoding=None, delimiter=None, name=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        users: PathBuf,
        aliases: Option<PathBuf>,
        user_columns: Option<&Bound<'_, PyAny>>,
        alias_columns: Option<&Bound<'_, PyAny>>,
        encoding: Option<&Bound<'_, PyAny>>,
        delimiter: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let mut c = PostiniConfig::default();
        c.users.clone_from(&users);
        c.aliases = aliases;
        c.user_columns = optional("user_columns", user_columns)?;
        c.alias_columns = optional("alias_columns", alias_columns)?;
        c.encoding = optional("encoding", encoding)?;
        c.delimiter = optional("delimiter", delimiter)?;
        let mut reader = c.reader().map_err(|(key, problem)| {
            PyValueError::new_err(format!("{key}: {}", muster::core::sanitize(&problem)))
        })?;
        if let Some(name) = name {
            reader = reader.named(name);
        }
        Ok(PostiniCsv { reader, users })
    }

    /// Reads both exports (with the GIL released). A file that cannot be
    /// read completely raises `SourceError`; bad rows (an alias whose user
    /// is not in the user export, say) are `issues`.
    fn read(&self, py: Python<'_>) -> PyResult<DirectoryRecords> {
        read(py, &self.reader)
    }

    fn __repr__(&self) -> String {
        format!(
            "PostiniCsv({:?})",
            muster::core::sanitize(&self.users.display().to_string())
        )
    }
}
