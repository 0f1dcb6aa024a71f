//! Directory and HR sources: `muster.StandardCsv` and `muster.HrRecords`,
//! with their records and issues as plain data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use muster::core::{
    DirectoryEntry, DirectorySnapshot, HrSnapshot, HrStatus, SourceIssue, SourceNote, sanitize,
};
use muster::directory::{
    DeltaRead as RustDeltaRead, DeltaRound, ExternalMembers, GraphCloud,
    GraphCursor as RustGraphCursor, GraphSource as RustGraphSource, HrColumns, HrCsv, LdapObjects,
    LdapSource as RustLdapSource, StandardCsv as RustStandardCsv, hr_from_rows,
};
use muster::gateway::SecretString;
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PySlice, PyString};

use crate::convert::{cell_text, keyword, serialize_to_py, type_name};
use crate::errors;
use crate::runtime;

/// A source issue as a dict: `location` (`file:line` or `record #i`),
/// `field`, `value` (an excerpt), `expected`, `related`, and `message` (the
/// whole sentence).
fn issue_dict<'py>(py: Python<'py>, issue: &SourceIssue) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("location", issue.location.to_string())?;
    d.set_item("field", issue.field.as_deref())?;
    d.set_item("value", issue.value.as_deref())?;
    d.set_item("expected", &issue.expected)?;
    d.set_item("related", issue.related.as_ref().map(ToString::to_string))?;
    d.set_item("message", issue.to_string())?;
    Ok(d)
}

pub(crate) fn issues_list<'py>(
    py: Python<'py>,
    issues: &[SourceIssue],
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for issue in issues {
        list.append(issue_dict(py, issue)?)?;
    }
    Ok(list)
}

/// A source's notes as dicts: `kind` (`guests`, `without_mail`,
/// `external_members`, `other_members`), `count`, `examples` (a few names,
/// safe to print), `kept` (whether they are among the entries) and
/// `message` (the whole sentence).
fn notes_list<'py>(py: Python<'py>, notes: &[SourceNote]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for note in notes {
        let d = PyDict::new(py);
        d.set_item("kind", serialize_to_py(py, &note.kind)?)?;
        d.set_item("count", note.count)?;
        d.set_item("examples", &note.examples)?;
        d.set_item("kept", note.kept)?;
        d.set_item("message", note.to_string())?;
        list.append(d)?;
    }
    Ok(list)
}

/// A list of dicts as rows of (column, text) cells: values that are not str
/// are converted with `str()`, None is empty.
pub(crate) fn rows_of_cells(rows: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<(String, String)>>> {
    let mut owned = Vec::new();
    for (i, row) in rows.try_iter()?.enumerate() {
        let row = row?;
        let dict = row.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("rows[{i}] must be a dict, not {}", type_name(&row)))
        })?;
        let mut cells = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = k.extract::<String>().map_err(|_| {
                PyValueError::new_err(format!("rows[{i}]: column names must be str"))
            })?;
            cells.push((key, cell_text(&v)?));
        }
        owned.push(cells);
    }
    Ok(owned)
}

/// `active`, `terminated`, `leave`, or anything else as an unknown status.
fn status_of(text: &str) -> HrStatus {
    text.parse().unwrap_or_else(|never| match never {})
}

fn columns(email: &str, status: &str, statuses: Option<BTreeMap<String, String>>) -> HrColumns {
    let mut columns = HrColumns::default().email(email).status(status);
    for (value, meaning) in statuses.unwrap_or_default() {
        columns = columns.map_status(&value, status_of(&meaning));
    }
    columns
}

/// HR records (address + employment status + any other columns) for the
/// functional-account rule. Bad rows are `issues`, never exceptions.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct HrRecords {
    pub(crate) snapshot: HrSnapshot,
}

#[pymethods]
impl HrRecords {
    /// Reads a CSV file with a header row. `email` and `status` name the
    /// columns; `statuses` maps the file's own values to `active`,
    /// `terminated` or `leave` (`{"Retired": "terminated"}`).
    #[staticmethod]
    #[pyo3(signature = (path, *, email="email", status="status", statuses=None, name=None))]
    fn from_csv(
        py: Python<'_>,
        path: PathBuf,
        email: &str,
        status: &str,
        statuses: Option<BTreeMap<String, String>>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let mut csv = HrCsv::new(&path).columns(columns(email, status, statuses));
        if let Some(name) = name {
            csv = csv.named(name);
        }
        let snapshot = py.detach(|| csv.read()).map_err(|e| errors::source(&e))?;
        Ok(HrRecords { snapshot })
    }

    /// Records from rows the script already has (a list of dicts, e.g.
    /// from SQL). Values that are not str are converted with `str()`;
    /// None is empty. Issues name the row as `record #i` (0-based).
    #[staticmethod]
    #[pyo3(signature = (rows, *, email="email", status="status", statuses=None, source="rows"))]
    fn from_rows(
        rows: &Bound<'_, PyAny>,
        email: &str,
        status: &str,
        statuses: Option<BTreeMap<String, String>>,
        source: &str,
    ) -> PyResult<Self> {
        let owned = rows_of_cells(rows)?;
        let snapshot = hr_from_rows(source, &columns(email, status, statuses), owned);
        Ok(HrRecords { snapshot })
    }

    /// One dict per person: `email`, `status`, `attributes` (other columns), `location`.
    #[getter]
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for r in &self.snapshot.records {
            let d = PyDict::new(py);
            d.set_item("email", r.email.as_str())?;
            d.set_item("status", r.status.as_str())?;
            d.set_item("attributes", r.attributes.clone())?;
            d.set_item("location", r.location.as_ref().map(ToString::to_string))?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Rows that could not be used, as dicts (see `StandardCsv.read`).
    #[getter]
    fn issues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        issues_list(py, &self.snapshot.issues)
    }

    /// The source's name (the file, or `source=`).
    #[getter]
    fn source(&self) -> &str {
        &self.snapshot.source
    }

    /// True when every person was read (the HR rule never acts on a partial list).
    #[getter]
    fn complete(&self) -> bool {
        self.snapshot.is_complete()
    }

    fn __len__(&self) -> usize {
        self.snapshot.records.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "HrRecords(source={:?}, records={}, issues={})",
            self.snapshot.source,
            self.snapshot.records.len(),
            self.snapshot.issues.len()
        )
    }
}

/// Proofpoint's Standard CSV (first, last, primary, mobile, aliases…;
/// header optional; what Excel writes).
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct StandardCsv {
    path: PathBuf,
    name: Option<String>,
}

#[pymethods]
impl StandardCsv {
    #[new]
    #[pyo3(signature = (path, *, name=None))]
    fn new(path: PathBuf, name: Option<String>) -> Self {
        StandardCsv { path, name }
    }

    /// Reads the whole file (with the GIL released). A file that cannot be
    /// read completely raises `SourceError`; bad rows are `issues`.
    fn read(&self, py: Python<'_>) -> PyResult<DirectoryRecords> {
        let mut csv = RustStandardCsv::new(&self.path);
        if let Some(name) = &self.name {
            csv = csv.named(name.clone());
        }
        let snapshot = py.detach(|| csv.read()).map_err(|e| errors::source(&e))?;
        Ok(DirectoryRecords::new(snapshot))
    }

    fn __repr__(&self) -> String {
        format!("StandardCsv({:?})", self.path.display().to_string())
    }
}

/// `objects=`: which objects an LDAP source reads.
fn ldap_objects(objects: &str) -> PyResult<LdapObjects> {
    match objects {
        "users" => Ok(LdapObjects::Users),
        "groups" => Ok(LdapObjects::Groups),
        "both" => Ok(LdapObjects::Both),
        other => Err(PyValueError::new_err(format!(
            "objects must be \"users\", \"groups\" or \"both\", not {other:?}"
        ))),
    }
}

/// `ca_pem=` as bytes: what `Path.read_bytes()` gives, or the same PEM as
/// text (`Path.read_text()`), since PEM is ASCII either way.
fn pem_bytes(pem: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = pem.cast::<PyBytes>() {
        Ok(bytes.as_bytes().to_vec())
    } else if let Ok(text) = pem.cast::<PyString>() {
        Ok(text.to_cow()?.as_bytes().to_vec())
    } else {
        Err(PyTypeError::new_err(format!(
            "ca_pem must be bytes or str (PEM), not {}",
            type_name(pem)
        )))
    }
}

/// An LDAP or Active Directory server (paged search, `proxyAddresses`,
/// disabled accounts, Exchange recipient types; filter values escaped, TLS
/// verified, plain `ldap://` refused off this machine unless `starttls`).
/// `ca_pem` adds CA certificates (an enterprise CA) to the platform's
/// trusted roots, or replaces them with `platform_roots=False`; a PEM with
/// no usable certificate raises ValueError here rather than a certificate
/// error at the first read. `objects` is `"users"` (default), `"groups"`
/// (mail-enabled groups) or `"both"` (then users' `member_of` too).
/// The password is held as a secret and never shown.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct LdapSource {
    source: RustLdapSource,
    url: String,
    base_dn: String,
}

#[pymethods]
impl LdapSource {
    #[new]
    #[pyo3(signature = (url, base_dn, *, bind_dn=None, password=None, filter=None, starttls=false, ca_pem=None, platform_roots=true, objects="users", name=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: &str,
        base_dn: &str,
        bind_dn: Option<&str>,
        password: Option<String>,
        filter: Option<&str>,
        starttls: bool,
        ca_pem: Option<&Bound<'_, PyAny>>,
        platform_roots: bool,
        objects: &str,
        name: Option<String>,
    ) -> PyResult<Self> {
        let mut source = RustLdapSource::new(url, base_dn);
        // Named first: the name is in the CA certificate's error.
        if let Some(name) = name {
            source = source.named(name);
        }
        match (bind_dn, password) {
            (Some(dn), Some(password)) => source = source.bind(dn, SecretString::from(password)),
            (None, None) => {}
            _ => {
                return Err(PyValueError::new_err(
                    "bind_dn and password go together (both, or neither for an anonymous bind)",
                ));
            }
        }
        if let Some(filter) = filter {
            source = source.filter(filter);
        }
        if starttls {
            source = source.starttls();
        }
        if let Some(pem) = ca_pem {
            source = source
                .root_certificate_pem(&pem_bytes(pem)?)
                .map_err(|e| PyValueError::new_err(errors::chain(&e)))?;
        }
        if !platform_roots {
            source = source.without_platform_root_certificates();
        }
        source = source.objects(ldap_objects(objects)?);
        Ok(LdapSource {
            source,
            url: url.to_owned(),
            base_dn: base_dn.to_owned(),
        })
    }

    /// Reads every object (with the GIL released). A directory that cannot
    /// be read completely raises `SourceError`; bad objects are `issues`.
    fn read(&self, py: Python<'_>) -> PyResult<DirectoryRecords> {
        let snapshot =
            runtime::block_on(py, self.source.read())?.map_err(|e| errors::source(&e))?;
        Ok(DirectoryRecords::new(snapshot))
    }

    fn __repr__(&self) -> String {
        format!("LdapSource({:?}, {:?})", self.url, self.base_dn)
    }
}

/// Users of a Microsoft Entra ID tenant through Microsoft Graph (client
/// credentials). `accountEnabled` is read only with `read_account_enabled`:
/// shared and room mailboxes are disabled users in Entra ID.
/// `mail_enabled_groups` also reads the tenant's mail-enabled groups as
/// recipients, and every entry's groups (`member_of`) from their transitive
/// members (on every read, incremental ones too). `cloud` names a national
/// cloud (`"us_government"`, `"us_government_dod"`, `"china"`); the token's
/// scope follows the Graph URL unless `scope` is given. A `filter` that needs
/// Graph's advanced queries (`ne`, `not`, `endsWith`…) is sent as one;
/// `advanced_query` forces it. `external_members="skip"` leaves B2B members
/// out (they are synced by default); either way they, guests and users
/// without an address are counted in the snapshot's `notes`. A
/// `Retry-After` longer than `max_retry_after` seconds (default 300) ends
/// the read with `SourceError`. The secret is held as a secret and never shown.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct GraphSource {
    source: RustGraphSource,
    tenant: String,
}

#[pymethods]
impl GraphSource {
    #[new]
    #[pyo3(signature = (tenant, client_id, client_secret, *, filter=None, read_account_enabled=false, mail_enabled_groups=false, authority=None, graph_url=None, name=None, cloud=None, scope=None, advanced_query=false, external_members="sync", max_retry_after=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        tenant: &str,
        client_id: &str,
        client_secret: String,
        filter: Option<&str>,
        read_account_enabled: bool,
        mail_enabled_groups: bool,
        authority: Option<&str>,
        graph_url: Option<&str>,
        name: Option<String>,
        cloud: Option<&str>,
        scope: Option<&str>,
        advanced_query: bool,
        external_members: &str,
        max_retry_after: Option<f64>,
    ) -> PyResult<Self> {
        let mut source = RustGraphSource::new(tenant, client_id, SecretString::from(client_secret))
            .external_members(keyword::<ExternalMembers>(
                "external_members",
                external_members,
            )?);
        // First, so that authority= and graph_url= override its URLs.
        if let Some(cloud) = cloud {
            source = source.cloud(keyword::<GraphCloud>("cloud", cloud)?);
        }
        if let Some(filter) = filter {
            source = source.filter(filter);
        }
        if read_account_enabled {
            source = source.read_account_enabled();
        }
        if mail_enabled_groups {
            source = source.mail_enabled_groups();
        }
        if let Some(url) = authority {
            source = source.authority(url);
        }
        if let Some(url) = graph_url {
            source = source.graph_url(url);
        }
        if let Some(scope) = scope {
            source = source.scope(scope);
        }
        if advanced_query {
            source = source.advanced_query();
        }
        if let Some(seconds) = max_retry_after {
            let cap = std::time::Duration::try_from_secs_f64(seconds).map_err(|_| {
                PyValueError::new_err(format!(
                    "max_retry_after must be a number of seconds, not {seconds}"
                ))
            })?;
            source = source.max_retry_after(cap);
        }
        if let Some(name) = name {
            source = source.named(name);
        }
        Ok(GraphSource {
            source,
            tenant: tenant.to_owned(),
        })
    }

    /// Reads every user, following every page (with the GIL released). A
    /// tenant that cannot be read completely raises `SourceError`.
    fn read(&self, py: Python<'_>) -> PyResult<DirectoryRecords> {
        let snapshot =
            runtime::block_on(py, self.source.read())?.map_err(|e| errors::source(&e))?;
        Ok(DirectoryRecords::new(snapshot))
    }

    /// Reads the whole directory through Graph's delta query, continuing
    /// from `cursor` (or, without one, enumerating every user), with the
    /// GIL released. Keep the returned `cursor` for the next call only now
    /// that the read succeeded; a read that raises leaves the old cursor as
    /// good as it was. When Graph no longer knows the cursor (expired delta
    /// token), every user is read again and `round` is `"resynced"`. A
    /// cursor of another tenant or selection, or a source with a `filter`,
    /// raises `SourceError` before any request.
    #[pyo3(signature = (cursor=None))]
    fn read_incremental(
        &self,
        py: Python<'_>,
        cursor: Option<Py<GraphCursor>>,
    ) -> PyResult<DeltaRead> {
        let saved = cursor.as_ref().map(|c| &c.get().cursor);
        let read = runtime::block_on(py, self.source.read_incremental(saved))?
            .map_err(|e| errors::source(&e))?;
        DeltaRead::new(py, read)
    }

    fn __repr__(&self) -> String {
        format!("GraphSource({:?})", self.tenant)
    }
}

/// Where the next `GraphSource.read_incremental` starts: Graph's delta link
/// and the users it extends. Store `to_json()` between runs (it holds the
/// users' directory data but no secret or token) and load it with
/// `from_json`. Stamped with the tenant and selection it was made for.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct GraphCursor {
    cursor: RustGraphCursor,
}

#[pymethods]
impl GraphCursor {
    /// A cursor saved by `to_json`; anything else (or another format
    /// version) raises `SourceError` rather than quietly starting over.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let cursor = RustGraphCursor::from_json(text).map_err(|e| errors::source(&e))?;
        Ok(GraphCursor { cursor })
    }

    /// The cursor as versioned JSON, to store until the next run.
    fn to_json(&self) -> PyResult<String> {
        self.cursor.to_json().map_err(|e| errors::source(&e))
    }

    /// The tenant it was made for.
    #[getter]
    fn tenant(&self) -> &str {
        self.cursor.tenant()
    }

    /// How many users it remembers (recipients or not).
    #[getter]
    fn user_count(&self) -> usize {
        self.cursor.user_count()
    }

    fn __repr__(&self) -> String {
        format!(
            "GraphCursor(tenant={:?}, users={})",
            self.cursor.tenant(),
            self.cursor.user_count()
        )
    }
}

/// What `GraphSource.read_incremental` read: the whole directory
/// (`snapshot`), the `cursor` for the next call, and the `round`:
/// `"initial"` (no cursor given), `"incremental"` (with `changed` and
/// `removed` counts) or `"resynced"` (Graph had forgotten the cursor, every
/// user was read again; `resync_status` and `resync_code` say how Graph
/// refused it).
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct DeltaRead {
    snapshot: Py<DirectoryRecords>,
    cursor: Py<GraphCursor>,
    round: &'static str,
    changed: Option<usize>,
    removed: Option<usize>,
    resync_status: Option<u16>,
    resync_code: Option<String>,
}

impl DeltaRead {
    fn new(py: Python<'_>, read: RustDeltaRead) -> PyResult<Self> {
        let (mut changed, mut removed) = (None, None);
        let (mut resync_status, mut resync_code) = (None, None);
        let round = match read.round {
            DeltaRound::Initial => "initial",
            DeltaRound::Incremental {
                changed: c,
                removed: r,
            } => {
                (changed, removed) = (Some(c), Some(r));
                "incremental"
            }
            DeltaRound::Resynced { status, code } => {
                (resync_status, resync_code) = (status, code);
                "resynced"
            }
            // A kind of round this version does not know: still a complete read.
            _ => "unknown",
        };
        Ok(DeltaRead {
            snapshot: Py::new(py, DirectoryRecords::new(read.snapshot))?,
            cursor: Py::new(
                py,
                GraphCursor {
                    cursor: read.cursor,
                },
            )?,
            round,
            changed,
            removed,
            resync_status,
            resync_code,
        })
    }
}

#[pymethods]
impl DeltaRead {
    /// The whole directory, as `GraphSource.read()` would give it.
    #[getter]
    fn snapshot(&self, py: Python<'_>) -> Py<DirectoryRecords> {
        self.snapshot.clone_ref(py)
    }

    /// The cursor for the next call: keep it instead of the old one.
    #[getter]
    fn cursor(&self, py: Python<'_>) -> Py<GraphCursor> {
        self.cursor.clone_ref(py)
    }

    /// `"initial"`, `"incremental"` or `"resynced"`.
    #[getter]
    fn round(&self) -> &'static str {
        self.round
    }

    /// Users Graph sent as added or changed (incremental rounds only).
    #[getter]
    fn changed(&self) -> Option<usize> {
        self.changed
    }

    /// Users Graph sent as removed (incremental rounds only).
    #[getter]
    fn removed(&self) -> Option<usize> {
        self.removed
    }

    /// The HTTP status of Graph's refusal of the cursor (resynced rounds only).
    #[getter]
    fn resync_status(&self) -> Option<u16> {
        self.resync_status
    }

    /// Graph's error code for that refusal (`resyncRequired`…), if it gave one.
    #[getter]
    fn resync_code(&self) -> Option<&str> {
        self.resync_code.as_deref()
    }

    fn __repr__(&self) -> String {
        format!(
            "DeltaRead(round={:?}, entries={})",
            self.round,
            self.snapshot.get().snapshot.entries.len()
        )
    }
}

/// What a directory source said in one read: entries, issues, and the
/// fields it provides (the planner never clears a field a source lacks).
#[pyclass(module = "muster._muster", frozen, name = "DirectorySnapshot")]
pub(crate) struct DirectoryRecords {
    /// Shared with [`Entries`], so reading the entries copies nothing.
    pub(crate) snapshot: Arc<DirectorySnapshot>,
    /// The one `entries` view, made on first access.
    entries: PyOnceLock<Py<Entries>>,
}

impl DirectoryRecords {
    pub(crate) fn new(snapshot: DirectorySnapshot) -> Self {
        DirectoryRecords {
            snapshot: Arc::new(snapshot),
            entries: PyOnceLock::new(),
        }
    }
}

#[pymethods]
impl DirectoryRecords {
    /// The entries as a read-only sequence over the Rust snapshot: the same
    /// object on every access, `len()` without converting anything, and a
    /// fresh dict per entry read (by index or while iterating), so a script
    /// that edits one changes neither the snapshot nor the next read.
    #[getter]
    fn entries(&self, py: Python<'_>) -> PyResult<Py<Entries>> {
        let entries = self.entries.get_or_try_init(py, || {
            Py::new(
                py,
                Entries {
                    snapshot: Arc::clone(&self.snapshot),
                },
            )
        })?;
        Ok(entries.clone_ref(py))
    }

    /// Records that could not be read: dicts with `location` (`file:line`),
    /// `field`, `value`, `expected`, `related` and `message`.
    #[getter]
    fn issues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        issues_list(py, &self.snapshot.issues)
    }

    /// What the source counted rather than listed: dicts with `kind`
    /// (`guests`, `without_mail`, `external_members`, `other_members`),
    /// `count`, `examples` (a few names, safe to print), `kept` (whether
    /// they are among the entries) and `message`.
    #[getter]
    fn notes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        notes_list(py, &self.snapshot.notes)
    }

    /// The fields the source provides (`first_name`, `mobile`, `aliases`, …).
    #[getter]
    fn provided(&self) -> Vec<&'static str> {
        self.snapshot.provided.iter().map(|f| f.as_str()).collect()
    }

    /// The source's name.
    #[getter]
    fn source(&self) -> &str {
        &self.snapshot.source
    }

    /// True when the source was read completely.
    #[getter]
    fn complete(&self) -> bool {
        self.snapshot.is_complete()
    }

    fn __len__(&self) -> usize {
        self.snapshot.entries.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "DirectorySnapshot(source={:?}, entries={}, issues={})",
            sanitize(&self.snapshot.source),
            self.snapshot.entries.len(),
            self.snapshot.issues.len()
        )
    }
}

/// One entry as the dict a script reads (`primary_email`, `aliases`,
/// names, phones, `kind`, `enabled`, …): built when it is read, never kept.
fn entry_dict<'py>(py: Python<'py>, entry: &DirectoryEntry) -> PyResult<Bound<'py, PyAny>> {
    serialize_to_py(py, entry)
}

/// `DirectorySnapshot.entries`: a read-only sequence of entry dicts over
/// the snapshot the source read. Not a list: a list of dicts would be built
/// whole on first access (seconds at 100k entries) and shared, so one
/// caller's edit would show in everybody's copy.
#[pyclass(module = "muster._muster", frozen, sequence)]
pub(crate) struct Entries {
    snapshot: Arc<DirectorySnapshot>,
}

impl Entries {
    /// `index` as a position, negative from the end; `IndexError` outside.
    fn position(&self, index: isize) -> PyResult<usize> {
        let len = self.snapshot.entries.len();
        let i = if index < 0 {
            index + len as isize
        } else {
            index
        };
        if i < 0 || i as usize >= len {
            return Err(PyIndexError::new_err("entries index out of range"));
        }
        Ok(i as usize)
    }
}

#[pymethods]
impl Entries {
    fn __len__(&self) -> usize {
        self.snapshot.entries.len()
    }

    /// One entry by position (a new dict), or a slice as a list of them.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(slice) = index.cast::<PySlice>() {
            let indices = slice.indices(self.snapshot.entries.len() as isize)?;
            let list = PyList::empty(py);
            let mut i = indices.start;
            for _ in 0..indices.slicelength {
                list.append(entry_dict(py, &self.snapshot.entries[i as usize])?)?;
                i += indices.step;
            }
            return Ok(list.into_any());
        }
        let i: isize = index.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "entries indices must be integers or slices, not {}",
                type_name(index)
            ))
        })?;
        entry_dict(py, &self.snapshot.entries[self.position(i)?])
    }

    fn __iter__(&self) -> EntriesIter {
        EntriesIter {
            snapshot: Arc::clone(&self.snapshot),
            next: AtomicUsize::new(0),
        }
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.index(py, value)?.is_some())
    }

    /// The position of the first entry equal to `value` (a dict), as
    /// `list.index` (`ValueError` when none is).
    #[pyo3(name = "index")]
    fn index_of(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.index(py, value)?
            .ok_or_else(|| PyValueError::new_err("no such entry"))
    }

    /// How many entries equal `value` (a dict).
    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut n = 0;
        for entry in &self.snapshot.entries {
            if entry_dict(py, entry)?.eq(value)? {
                n += 1;
            }
        }
        Ok(n)
    }

    fn __reversed__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let entries: Vec<Bound<'_, PyAny>> = self
            .snapshot
            .entries
            .iter()
            .rev()
            .map(|e| entry_dict(py, e))
            .collect::<PyResult<_>>()?;
        Ok(PyList::new(py, entries)?
            .into_any()
            .try_iter()?
            .into_any()
            .unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "Entries(source={:?}, entries={})",
            sanitize(&self.snapshot.source),
            self.snapshot.entries.len()
        )
    }
}

impl Entries {
    fn index(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        for (i, entry) in self.snapshot.entries.iter().enumerate() {
            if entry_dict(py, entry)?.eq(value)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// Iterates a snapshot's entries, one new dict per step.
#[pyclass(module = "muster._muster", frozen)]
pub(crate) struct EntriesIter {
    snapshot: Arc<DirectorySnapshot>,
    next: AtomicUsize,
}

#[pymethods]
impl EntriesIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.snapshot.entries.get(i) {
            Some(entry) => entry_dict(py, entry).map(Some),
            None => {
                // Stay exhausted: no wrap-around after usize::MAX calls.
                self.next
                    .store(self.snapshot.entries.len(), Ordering::Relaxed);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{columns, status_of};
    use muster::core::HrStatus;
    use muster::directory::hr_from_rows;
    use std::collections::BTreeMap;

    #[test]
    fn mapped_statuses_reach_the_records() {
        let cols = columns(
            "Work Email",
            "State",
            Some(BTreeMap::from([("Retired".into(), "terminated".into())])),
        );
        let rows = vec![vec![
            ("Work Email", "ann@example.com"),
            ("State", "retired"),
        ]];
        let hr = hr_from_rows("rows", &cols, rows);
        assert_eq!(hr.records[0].status, HrStatus::Terminated);
        assert_eq!(
            status_of("sabbatical"),
            HrStatus::Other("sabbatical".into())
        );
    }
}
