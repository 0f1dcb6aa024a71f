//! Delta queries (`/users/delta`): the cursor a caller keeps between runs,
//! and merging one round's changes into the users it remembers (pure).
//!
//! Graph answers a delta round with the users that changed, and with
//! `$select` a changed user may carry only the properties that changed
//! (plus `id`). A snapshot needs every user with every property, so the
//! cursor holds the *materialised* users (each user's selected properties as
//! Graph last sent them) next to the delta link that continues from them,
//! and a round is merged into them property by property, never replacing a
//! user with the fragment that came. The snapshot is then mapped from the
//! merged users exactly as a full read maps `/users`.

use std::collections::BTreeMap;
use std::fmt;

use muster_core::DirectorySnapshot;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Error;

/// The cursor format this muster writes and reads.
pub const GRAPH_CURSOR_VERSION: u32 = 1;

/// The name in errors about a cursor read on its own, before any source sees it.
const CURSOR: &str = "graph cursor";

/// Where the next incremental read of a [`GraphSource`](crate::GraphSource)
/// starts: Graph's delta link and the users it extends, keyed by object id.
///
/// The caller keeps it between runs (in its own store, as
/// [`GraphCursor::to_json`]), hands it to the next
/// [`GraphSource::read_incremental`](crate::GraphSource::read_incremental)
/// and keeps the *new* cursor only once that read succeeded: a read that
/// fails leaves the old one as good as it was.
///
/// A cursor is stamped with the tenant, the `$select` and the `$filter` it
/// was made with, because Graph encodes the query in the delta link and the
/// users it holds only carry the properties selected then: applied to
/// another tenant, or after the selection changed, it would merge changes
/// into the wrong directory or leave properties stale forever. Such a
/// cursor is refused ([`Error::GraphCursor`]); start again without one.
///
/// It holds no secret: neither the client secret nor any access token (the
/// delta link's state token only works with a valid token of the tenant).
/// It does hold the users' directory data, so store it as carefully as a
/// snapshot. `Debug` shows the counts, not the users or the state token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphCursor {
    version: CursorVersion,
    tenant: String,
    select: String,
    filter: Option<String>,
    delta_link: String,
    users: BTreeMap<String, Map<String, Value>>,
}

impl GraphCursor {
    pub(crate) fn new(
        tenant: &str,
        select: &str,
        filter: Option<String>,
        delta_link: String,
        users: BTreeMap<String, Map<String, Value>>,
    ) -> Self {
        GraphCursor {
            version: CursorVersion,
            tenant: tenant.to_owned(),
            select: select.to_owned(),
            filter,
            delta_link,
            users,
        }
    }

    /// The tenant it was made for, as the source named it.
    #[must_use]
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// How many users it remembers (recipients or not: a user without a
    /// mailbox today may get one in a later round that sends only `mail`).
    #[must_use]
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The cursor as versioned JSON, to keep until the next run.
    ///
    /// # Errors
    /// [`Error::GraphCursor`] if serialisation fails (it does not for a
    /// cursor made by a source).
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(|e| refused(CURSOR, format!("{e}")))
    }

    /// Reads a cursor saved by [`GraphCursor::to_json`].
    ///
    /// # Errors
    /// [`Error::GraphCursor`] when `json` is not a cursor or has a format
    /// version other than [`GRAPH_CURSOR_VERSION`].
    pub fn from_json(json: &str) -> Result<Self, Error> {
        serde_json::from_str(json)
            .map_err(|e| refused(CURSOR, format!("not a saved Graph cursor ({e})")))
    }

    /// Refuses a cursor that was not made by a source configured like this one.
    pub(crate) fn check(
        &self,
        source_name: &str,
        tenant: &str,
        select: &str,
        filter: Option<&str>,
    ) -> Result<(), Error> {
        let reason = if !self.tenant.eq_ignore_ascii_case(tenant) {
            format!(
                "the cursor was made for tenant `{}`, not `{tenant}`",
                self.tenant
            )
        } else if self.select != select {
            format!(
                "the cursor was made with $select={}, this source selects {select}; read without a cursor once",
                self.select
            )
        } else if self.filter.as_deref() != filter {
            "the cursor was made with another $filter; read without a cursor once".to_owned()
        } else {
            return Ok(());
        };
        Err(refused(source_name, reason))
    }

    pub(crate) fn delta_link(&self) -> &str {
        &self.delta_link
    }

    pub(crate) fn users(&self) -> &BTreeMap<String, Map<String, Value>> {
        &self.users
    }
}

impl fmt::Debug for GraphCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The link without its query: the state token stays out of logs.
        let link = self.delta_link.split('?').next().unwrap_or_default();
        f.debug_struct("GraphCursor")
            .field("tenant", &self.tenant)
            .field("select", &self.select)
            .field("filter", &self.filter)
            .field("delta_link", &format_args!("{link}?…"))
            .field("users", &self.users.len())
            .finish()
    }
}

/// The format version; only [`GRAPH_CURSOR_VERSION`] is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CursorVersion;

impl Serialize for CursorVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(GRAPH_CURSOR_VERSION)
    }
}

impl<'de> Deserialize<'de> for CursorVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = u64::deserialize(deserializer)?;
        if found == u64::from(GRAPH_CURSOR_VERSION) {
            Ok(CursorVersion)
        } else {
            Err(serde::de::Error::custom(format!(
                "Graph cursor version {found}; this muster reads version {GRAPH_CURSOR_VERSION}"
            )))
        }
    }
}

pub(crate) fn refused(source_name: &str, reason: String) -> Error {
    Error::GraphCursor {
        source_name: source_name.to_owned(),
        reason,
    }
}

/// What an incremental read did, for the caller to log or count.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeltaRound {
    /// No cursor was given: every user was enumerated.
    Initial,
    /// The cursor's round was merged: how many changed (or new) and removed
    /// users Graph sent. A user sent twice counts twice.
    Incremental {
        /// Users added or updated.
        changed: usize,
        /// Users removed (deleted, soft-deleted, or out of scope).
        removed: usize,
    },
    /// Graph no longer knew the cursor's state (410 Gone, `resyncRequired`,
    /// `syncStateNotFound`: delta tokens of directory objects expire after
    /// about a week), so every user was enumerated again. The snapshot is
    /// as complete as an initial one; worth a note, since it cost a full read.
    Resynced {
        /// The status of Graph's refusal.
        status: Option<u16>,
        /// Graph's error code, if it gave one.
        code: Option<String>,
    },
}

/// The result of [`GraphSource::read_incremental`](crate::GraphSource::read_incremental).
#[derive(Debug)]
#[non_exhaustive]
pub struct DeltaRead {
    /// The whole directory, as a full read would give it.
    pub snapshot: DirectorySnapshot,
    /// Where the next incremental read starts; keep it instead of the old one.
    pub cursor: GraphCursor,
    /// Whether this was a first, incremental or restarted round.
    pub round: DeltaRound,
}

/// What one delta item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Upserted,
    Removed,
}

/// Applies one element of a delta page to the materialised users: an
/// `@removed` user is dropped (`deleted`, and `changed` too — soft-deleted
/// or moved out of scope, either way no longer a recipient here); any other
/// is merged property by property, keeping only `selected` properties, so
/// a property Graph did not send keeps its last value. Replays are harmless.
///
/// An element without a string `id` cannot be tracked: it is an error,
/// because dropping it could hide a user that exists.
pub(crate) fn merge(
    users: &mut BTreeMap<String, Map<String, Value>>,
    item: Value,
    selected: &[&str],
) -> Result<Change, String> {
    let Value::Object(mut object) = item else {
        return Err("a delta item that is not an object".to_owned());
    };
    let Some(Value::String(id)) = object.remove("id") else {
        return Err("a delta item without an id".to_owned());
    };
    if object.contains_key("@removed") {
        users.remove(&id);
        return Ok(Change::Removed);
    }
    let user = users.entry(id.clone()).or_default();
    user.insert("id".to_owned(), Value::String(id));
    for (property, value) in object {
        if selected.contains(&property.as_str()) {
            user.insert(property, value);
        }
    }
    Ok(Change::Upserted)
}

/// True when Graph refused a delta link because its state is gone and a
/// full enumeration is the way back (410 Gone, or the documented codes).
pub(crate) fn is_resync(error: &Error) -> Option<(Option<u16>, Option<String>)> {
    match error {
        Error::Graph { status, code, .. }
            if *status == Some(410)
                || code.as_deref().is_some_and(|c| {
                    c.eq_ignore_ascii_case("resyncRequired")
                        || c.eq_ignore_ascii_case("syncStateNotFound")
                }) =>
        {
            Some((*status, code.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SELECTED: &[&str] = &["id", "mail", "givenName", "department"];

    fn users() -> BTreeMap<String, Map<String, Value>> {
        let mut users = BTreeMap::new();
        merge(
            &mut users,
            json!({"id":"a","mail":"a@example.com","givenName":"Ann","department":"Sales"}),
            SELECTED,
        )
        .unwrap();
        users
    }

    #[test]
    fn a_changed_property_is_merged_and_the_others_are_kept() {
        let mut users = users();
        let change = merge(
            &mut users,
            json!({"id":"a","department":null,"@odata.type":"#microsoft.graph.user","jobTitle":"x"}),
            SELECTED,
        )
        .unwrap();
        assert_eq!(change, Change::Upserted);
        assert_eq!(
            Value::Object(users["a"].clone()),
            json!({"id":"a","mail":"a@example.com","givenName":"Ann","department":null}),
            "kept what was not sent, cleared what was sent as null, dropped what is not selected"
        );
    }

    #[test]
    fn removals_of_both_reasons_drop_the_user_and_replays_are_harmless() {
        for reason in ["deleted", "changed"] {
            let mut users = users();
            let removal = json!({"id":"a","@removed":{"reason":reason}});
            assert_eq!(
                merge(&mut users, removal.clone(), SELECTED),
                Ok(Change::Removed)
            );
            assert!(users.is_empty(), "{reason}");
            assert_eq!(merge(&mut users, removal, SELECTED), Ok(Change::Removed));
        }
    }

    #[test]
    fn items_that_cannot_be_tracked_are_errors() {
        let mut users = users();
        assert!(merge(&mut users, json!({"mail":"x@example.com"}), SELECTED).is_err());
        assert!(merge(&mut users, json!({"id":7}), SELECTED).is_err());
        assert!(merge(&mut users, json!("a"), SELECTED).is_err());
        assert_eq!(users, self::users(), "nothing applied");
    }

    #[test]
    fn only_gone_state_means_resync() {
        let graph = |status, code: Option<&str>| Error::Graph {
            source_name: "g".into(),
            url: "u".into(),
            page: 1,
            status,
            code: code.map(str::to_owned),
            message: None,
            source: None,
        };
        assert!(is_resync(&graph(Some(410), None)).is_some());
        assert!(is_resync(&graph(Some(400), Some("syncStateNotFound"))).is_some());
        assert!(is_resync(&graph(Some(400), Some("resyncRequired"))).is_some());
        assert!(is_resync(&graph(Some(503), Some("serviceNotAvailable"))).is_none());
        assert!(is_resync(&graph(None, None)).is_none());
    }

    #[test]
    fn another_tenant_selection_or_filter_is_refused_and_versions_are_checked() {
        let cursor = GraphCursor::new(
            "contoso.onmicrosoft.com",
            "id,mail",
            None,
            "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=T0KEN".into(),
            users(),
        );
        assert!(
            cursor
                .check("g", "CONTOSO.onmicrosoft.com", "id,mail", None)
                .is_ok()
        );
        for (tenant, select, filter) in [
            ("fabrikam.onmicrosoft.com", "id,mail", None),
            ("contoso.onmicrosoft.com", "id,mail,surname", None),
            ("contoso.onmicrosoft.com", "id,mail", Some("x eq 'y'")),
        ] {
            assert!(matches!(
                cursor.check("g", tenant, select, filter),
                Err(Error::GraphCursor { .. })
            ));
        }
        let json = cursor.to_json().unwrap();
        assert_eq!(GraphCursor::from_json(&json).unwrap(), cursor);
        let other = json.replacen("\"version\":1", "\"version\":2", 1);
        assert_ne!(other, json);
        let err = GraphCursor::from_json(&other).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let debug = format!("{cursor:?}");
        assert!(
            !debug.contains("T0KEN") && !debug.contains("a@example.com"),
            "{debug}"
        );
    }
}
