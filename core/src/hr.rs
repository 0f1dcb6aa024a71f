//! HR records: who is employed, for the functional-account rules.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::email::EmailAddress;
use crate::snapshot::{Completeness, Location, SourceIssue};

/// Employment status as an HR system reports it.
///
/// Known spellings are recognised case-insensitively; anything else is kept
/// in [`HrStatus::Other`] so a policy can map it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HrStatus {
    /// Currently employed.
    Active,
    /// Employment ended.
    Terminated,
    /// Employed but away (leave of absence, sabbatical); still a person with a mailbox.
    Leave,
    /// A status muster does not know, kept as spelled (trimmed).
    Other(String),
}

impl HrStatus {
    /// The canonical spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            HrStatus::Active => "active",
            HrStatus::Terminated => "terminated",
            HrStatus::Leave => "leave",
            HrStatus::Other(s) => s,
        }
    }
}

impl fmt::Display for HrStatus {
    /// An unknown status is the HR file's own text: shown
    /// [`sanitize`](crate::sanitize)d, as every value from outside is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::sanitize(self.as_str()))
    }
}

impl FromStr for HrStatus {
    type Err = std::convert::Infallible;
    /// Never fails: unknown spellings become [`HrStatus::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "active" | "employed" | "a" => HrStatus::Active,
            "terminated" | "term" | "t" | "inactive" | "left" | "separated" => HrStatus::Terminated,
            "leave" | "on leave" | "loa" | "l" => HrStatus::Leave,
            _ => HrStatus::Other(t.to_owned()),
        })
    }
}

impl Serialize for HrStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HrStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(s.parse().unwrap_or_else(|never| match never {}))
    }
}

/// One person in the HR system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HrRecord {
    /// The person's work address.
    pub email: EmailAddress,
    /// Employment status.
    pub status: HrStatus,
    /// Every other column, kept for allowlists and reports.
    pub attributes: BTreeMap<String, String>,
    /// Where the record came from.
    pub location: Option<Location>,
}

impl HrRecord {
    /// A record with no extra attributes.
    #[must_use]
    pub fn new(email: EmailAddress, status: HrStatus) -> Self {
        HrRecord {
            email,
            status,
            attributes: BTreeMap::new(),
            location: None,
        }
    }
}

/// Everything an HR source said in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HrSnapshot {
    /// The source's name.
    pub source: String,
    /// One record per person (duplicates already resolved or reported).
    pub records: Vec<HrRecord>,
    /// Records that could not be used.
    pub issues: Vec<SourceIssue>,
    /// Whether every person was read; the HR rule never acts on a partial list.
    pub completeness: Completeness,
}

impl HrSnapshot {
    /// A complete snapshot of `records`.
    #[must_use]
    pub fn new(source: impl Into<String>, records: Vec<HrRecord>) -> Self {
        HrSnapshot {
            source: source.into(),
            records,
            issues: Vec::new(),
            completeness: Completeness::Complete,
        }
    }

    /// True when every person was read.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        matches!(self.completeness, Completeness::Complete)
    }
}

#[cfg(test)]
mod tests {

    /// Found by the `hr_csv` fuzz target: an unknown status is the file's
    /// text, quoted in the issue about a second, conflicting status.
    #[test]
    fn an_unknown_status_is_shown_sanitized() {
        let status: super::HrStatus = "met at\nthe fair".parse().unwrap();
        assert_eq!(status.to_string(), "met at\\nthe fair");
        assert_eq!(status.as_str(), "met at\nthe fair");
    }
    use super::*;

    #[test]
    fn statuses_parse_case_insensitively_and_keep_unknowns() {
        assert_eq!(
            "Terminated".parse::<HrStatus>().unwrap(),
            HrStatus::Terminated
        );
        assert_eq!(" ACTIVE ".parse::<HrStatus>().unwrap(), HrStatus::Active);
        assert_eq!("On Leave".parse::<HrStatus>().unwrap(), HrStatus::Leave);
        assert_eq!(
            "Contractor".parse::<HrStatus>().unwrap(),
            HrStatus::Other("Contractor".into())
        );
        let json = serde_json::to_string(&HrStatus::Other("Retired".into())).unwrap();
        assert_eq!(json, "\"Retired\"");
    }
}
