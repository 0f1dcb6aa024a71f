//! `muster.testing.Emulator`: the gateway emulator in-process, served by
//! the module's runtime threads while the test runs.

use std::sync::Mutex;

use muster_emulator::{Emulator as RustEmulator, Seed};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::{from_py, serialize_to_py, to_py};
use crate::errors::EmulatorError;
use crate::runtime;

/// A running emulator; `close()` (or leaving the `with` block) stops it.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct Emulator {
    inner: Mutex<Option<RustEmulator>>,
    base_url: String,
}

fn emulator_error(e: &muster_emulator::Error) -> PyErr {
    EmulatorError::new_err(crate::errors::chain(e))
}

impl Emulator {
    fn with<T>(&self, f: impl FnOnce(&RustEmulator) -> T) -> PyResult<T> {
        let guard = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("emulator lock poisoned"))?;
        let emu = guard
            .as_ref()
            .ok_or_else(|| EmulatorError::new_err("the emulator is closed"))?;
        Ok(f(emu))
    }
}

#[pymethods]
impl Emulator {
    /// Starts an emulator from a seed given as JSON text (the seed file
    /// format: `orgs`, `logins`, `rate_limit`, `faults`) or from a seed file.
    #[staticmethod]
    #[pyo3(signature = (*, seed_json=None, seed_path=None, port=None))]
    fn start(
        py: Python<'_>,
        seed_json: Option<String>,
        seed_path: Option<std::path::PathBuf>,
        port: Option<u16>,
    ) -> PyResult<Self> {
        let seed = match (seed_json, seed_path) {
            (Some(text), _) => Seed::from_json(&text),
            (None, Some(path)) => Seed::from_file(path),
            (None, None) => Ok(Seed::default()),
        }
        .map_err(|e| emulator_error(&e))?;
        let mut builder = RustEmulator::builder().seed(seed);
        if let Some(port) = port {
            builder = builder.port(port);
        }
        let emu = runtime::block_on(py, builder.start())?.map_err(|e| emulator_error(&e))?;
        let base_url = emu.base_url().to_owned();
        Ok(Emulator {
            inner: Mutex::new(Some(emu)),
            base_url,
        })
    }

    /// `http://127.0.0.1:PORT/api/v1`: what `Gateway.essentials` takes.
    #[getter]
    fn url(&self) -> String {
        format!("{}/api/v1", self.base_url)
    }

    /// `http://127.0.0.1:PORT`.
    #[getter]
    fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every user of `org` in the gateway's own JSON shape.
    fn users<'py>(&self, py: Python<'py>, org: &str) -> PyResult<Bound<'py, PyAny>> {
        let users = self.with(|e| e.users(org))?;
        to_py(py, &serde_json::Value::Array(users))
    }

    /// One user of `org` by primary address, or None.
    fn user<'py>(&self, py: Python<'py>, org: &str, email: &str) -> PyResult<Bound<'py, PyAny>> {
        let user = self.with(|e| e.user(org, email))?;
        to_py(py, &user.unwrap_or(serde_json::Value::Null))
    }

    /// The request log (method, uri, route, login, status, fault, body),
    /// credentials removed.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let requests = self.with(RustEmulator::requests)?;
        serialize_to_py(py, &requests)
    }

    /// How many requests `method` `route` (template) answered with `status`.
    fn count(&self, method: &str, route: &str, status: u16) -> PyResult<u64> {
        self.with(|e| e.count(method, route, status))
    }

    /// Welcome letters sent to `email` since start.
    fn welcome_letters(&self, email: &str) -> PyResult<u32> {
        self.with(|e| e.welcome_letters(email))
    }

    /// Adds a user behind the API's back, as an admin in the console would (no welcome letter, nothing logged); a taken address is an `EmulatorError`.
    fn insert_user(&self, org: &str, user: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = from_py(user)?;
        self.with(|e| e.insert_user(org, value))?
            .map_err(|e| emulator_error(&e))
    }

    /// Forgets the request log and counters.
    fn clear_observations(&self) -> PyResult<()> {
        self.with(RustEmulator::clear_observations)
    }

    /// Stops the server; idempotent.
    fn close(&self) -> PyResult<()> {
        let emu = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("emulator lock poisoned"))?
            .take();
        // Dropping the emulator stops its server task on the runtime.
        drop(emu);
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("Emulator(url={:?})", self.url())
    }
}
