//! A directory source's result: entries, issues, provided fields, completeness.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::fields::FieldSet;
use crate::records::DirectoryEntry;

/// The longest excerpt of an offending value kept in an issue, in characters.
pub const VALUE_EXCERPT_CHARS: usize = 60;

/// Where something in a source is: a file line, an LDAP DN, an object id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Location {
    /// A line in a file (1-based; the physical line where the record starts).
    Line {
        /// The file name as the user gave it. Shared: a million entries
        /// from one file hold one copy of its name.
        file: Arc<str>,
        /// 1-based line number.
        line: u64,
    },
    /// An LDAP distinguished name.
    Dn {
        /// The DN.
        dn: String,
    },
    /// An object id in an API (Graph `id`).
    ObjectId {
        /// The id.
        id: String,
    },
    /// The position of a record handed over in memory (0-based).
    Record {
        /// The index.
        index: usize,
    },
}

impl Location {
    /// A file line. Pass an `Arc<str>` to share one file name between many locations.
    #[must_use]
    pub fn line(file: impl Into<Arc<str>>, line: u64) -> Self {
        Location::Line {
            file: file.into(),
            line,
        }
    }

    /// An LDAP DN.
    #[must_use]
    pub fn dn(dn: impl Into<String>) -> Self {
        Location::Dn { dn: dn.into() }
    }

    /// An API object id.
    #[must_use]
    pub fn object_id(id: impl Into<String>) -> Self {
        Location::ObjectId { id: id.into() }
    }

    /// An in-memory record index.
    #[must_use]
    pub fn record(index: usize) -> Self {
        Location::Record { index }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A file name, DN or object id comes from outside muster (a DN
            // is whatever the directory holds): shown sanitized, like values.
            Location::Line { file, line } => write!(f, "{}:{line}", crate::sanitize(file)),
            Location::Dn { dn } => write!(f, "dn `{}`", crate::sanitize(dn)),
            Location::ObjectId { id } => write!(f, "object {}", crate::sanitize(id)),
            Location::Record { index } => write!(f, "record #{index}"),
        }
    }
}

/// One bad record (or bad value) in a source. The rest of the source still goes through.
///
/// ```
/// use muster_core::{Location, SourceIssue};
/// let issue = SourceIssue::new(Location::line("users.csv", 7), "an international phone number like +447700900123")
///     .with_field("mobile")
///     .with_value("07700 900123");
/// assert_eq!(
///     issue.to_string(),
///     "users.csv:7: mobile `07700 900123`: expected an international phone number like +447700900123"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceIssue {
    /// Where the problem is.
    pub location: Location,
    /// The field or column concerned, if one.
    pub field: Option<String>,
    /// An excerpt of the offending value (at most [`VALUE_EXCERPT_CHARS`] characters).
    pub value: Option<String>,
    /// What was expected instead, or what is wrong.
    pub expected: String,
    /// Another place involved (the first line of a duplicate).
    pub related: Option<Location>,
}

impl SourceIssue {
    /// An issue at `location`, saying what was `expected`.
    #[must_use]
    pub fn new(location: Location, expected: impl Into<String>) -> Self {
        SourceIssue {
            location,
            field: None,
            value: None,
            expected: expected.into(),
            related: None,
        }
    }

    /// Names the field or column.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Records an excerpt of the offending value, cut to [`VALUE_EXCERPT_CHARS`].
    #[must_use]
    pub fn with_value(mut self, value: &str) -> Self {
        self.value = Some(excerpt(value));
        self
    }

    /// Names another place involved, e.g. where a duplicate first appeared.
    #[must_use]
    pub fn with_related(mut self, related: Location) -> Self {
        self.related = Some(related);
        self
    }
}

/// Cuts a value to [`VALUE_EXCERPT_CHARS`] characters, marking the cut with
/// `…`, and [`sanitize`](crate::sanitize)s it, so an excerpt can neither
/// break a log line nor hide what it holds.
#[must_use]
pub fn excerpt(value: &str) -> String {
    let cut: String = value.chars().take(VALUE_EXCERPT_CHARS).collect();
    let mut out = crate::sanitize(&cut).into_owned();
    if value.chars().nth(VALUE_EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

impl fmt::Display for SourceIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        match (&self.field, &self.value) {
            (Some(field), Some(value)) => write!(f, "{field} `{value}`: ")?,
            (Some(field), None) => write!(f, "{field}: ")?,
            (None, Some(value)) => write!(f, "`{value}`: ")?,
            (None, None) => {}
        }
        write!(f, "expected {}", self.expected)?;
        if let Some(related) = &self.related {
            write!(f, " (see also {related})")?;
        }
        Ok(())
    }
}

/// How many examples a [`SourceNote`] keeps.
pub const NOTE_EXAMPLES: usize = 5;

/// What a [`SourceNote`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NoteKind {
    /// Guest accounts: people of other organisations invited into the
    /// directory (Graph `userType` `Guest`).
    Guests,
    /// Users with no address at all (service accounts, accounts without a mailbox).
    WithoutMail,
    /// Members from another organisation: Entra ID B2B accounts whose
    /// `userPrincipalName` holds `#EXT#` yet whose `userType` is `Member`.
    ExternalMembers,
    /// Group members that are neither users nor groups (devices, service
    /// principals, organisational contacts): they have no membership to sync.
    OtherMembers,
}

impl fmt::Display for NoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoteKind::Guests => "guests",
            NoteKind::WithoutMail => "users without an address",
            NoteKind::ExternalMembers => "external members (#EXT#, userType Member)",
            NoteKind::OtherMembers => {
                "group members that are not users or groups (devices, service principals, contacts)"
            }
        })
    }
}

/// Objects of one [`NoteKind`] a source counted rather than listed one by
/// one, with a few of their names: so that an admin asking why
/// `frank@example.com` is not synced finds the answer, and a guest or a
/// device is not mistaken for a record the source failed to read (which
/// [`SourceIssue`]s are, and which hold back destructive changes).
///
/// ```
/// use muster_core::{NoteKind, SourceNote};
/// let mut guests = SourceNote::new(NoteKind::Guests, false);
/// for name in ["pat@partner.example", "al@vendor.example", "evil\u{202e}gpj.exe@x.example"] {
///     guests.add(name);
/// }
/// assert_eq!(guests.count, 3);
/// assert_eq!(
///     guests.to_string(),
///     r"3 guests left out (e.g. `al@vendor.example`, `evil\u{202e}gpj.exe@x.example`, `pat@partner.example`)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceNote {
    /// What is counted.
    pub kind: NoteKind,
    /// How many objects.
    pub count: u64,
    /// Up to [`NOTE_EXAMPLES`] of their names, the first in sort order (so
    /// two reads of one directory give the same examples whatever order
    /// the objects came in), each made safe to print by [`excerpt`].
    pub examples: Vec<String>,
    /// True when the objects are among the snapshot's entries (counted for
    /// the record), false when they were left out.
    pub kept: bool,
}

impl SourceNote {
    /// An empty count of `kind`; `kept` says whether the objects stay in the entries.
    #[must_use]
    pub fn new(kind: NoteKind, kept: bool) -> Self {
        SourceNote {
            kind,
            count: 0,
            examples: Vec::new(),
            kept,
        }
    }

    /// Counts one more object, named `name` (an address, a principal name, an id).
    pub fn add(&mut self, name: &str) {
        self.count += 1;
        let name = excerpt(name);
        if let Err(at) = self.examples.binary_search(&name)
            && at < NOTE_EXAMPLES
        {
            self.examples.insert(at, name);
            self.examples.truncate(NOTE_EXAMPLES);
        }
    }
}

impl fmt::Display for SourceNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.kept { "kept" } else { "left out" };
        write!(f, "{} {} {what}", self.count, self.kind)?;
        if !self.examples.is_empty() {
            let examples: Vec<String> = self.examples.iter().map(|e| format!("`{e}`")).collect();
            write!(f, " (e.g. {})", examples.join(", "))?;
        }
        Ok(())
    }
}

/// Whether a snapshot is the whole directory.
///
/// Only a complete snapshot may justify destructive changes: an entry missing
/// from a partial one may simply not have been read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "completeness", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Completeness {
    /// Every object in scope was read.
    #[default]
    Complete,
    /// Some objects may be missing, and why (a delta round, a size limit, a filter).
    Partial {
        /// Why the snapshot is incomplete.
        reason: String,
    },
}

/// Everything one directory source said in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirectorySnapshot {
    /// The source's name (`ldap`, `entra`, `hr.csv`…), recorded as ownership.
    pub source: String,
    /// The recipients.
    pub entries: Vec<DirectoryEntry>,
    /// Records that could not be used, and why.
    pub issues: Vec<SourceIssue>,
    /// The fields this source carries; others are never changed from it.
    pub provided: FieldSet,
    /// Whether this is the whole directory.
    pub completeness: Completeness,
    /// Objects counted rather than listed: left out on purpose (guests,
    /// users without an address) or kept with a remark (external members).
    /// Not issues: nothing in them is unreadable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<SourceNote>,
}

impl DirectorySnapshot {
    /// An empty, complete snapshot from `source` providing `provided`.
    #[must_use]
    pub fn new(source: impl Into<String>, provided: FieldSet) -> Self {
        DirectorySnapshot {
            source: source.into(),
            entries: Vec::new(),
            issues: Vec::new(),
            provided,
            completeness: Completeness::Complete,
            notes: Vec::new(),
        }
    }

    /// The note of this kind, if the source made one.
    #[must_use]
    pub fn note(&self, kind: NoteKind) -> Option<&SourceNote> {
        self.notes.iter().find(|n| n.kind == kind)
    }

    /// Sets the entries.
    #[must_use]
    pub fn with_entries(mut self, entries: Vec<DirectoryEntry>) -> Self {
        self.entries = entries;
        self
    }

    /// Marks the snapshot partial, saying why.
    #[must_use]
    pub fn partial(mut self, reason: impl Into<String>) -> Self {
        self.completeness = Completeness::Partial {
            reason: reason.into(),
        };
        self
    }

    /// True when every object in scope was read.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        matches!(self.completeness, Completeness::Complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `ldap_values` fuzz target: a DN is the directory's own
    /// text and may hold a newline or control characters.
    #[test]
    fn a_location_from_outside_is_shown_on_one_line() {
        let issue = SourceIssue::new(Location::dn("\u{1}1\n\0"), "an email address")
            .with_related(Location::line("a\nb.csv", 2));
        assert_eq!(
            issue.to_string(),
            "dn `\\x011\\n\\x00`: expected an email address (see also a\\nb.csv:2)"
        );
        assert_eq!(
            Location::object_id("0b\u{202e}0b").to_string(),
            "object 0b\\u{202e}0b"
        );
    }

    #[test]
    fn issue_display_names_location_field_value_and_related() {
        let issue = SourceIssue::new(Location::line("u.csv", 9), "a unique primary address")
            .with_field("primary_email")
            .with_value("a@example.com")
            .with_related(Location::line("u.csv", 4));
        assert_eq!(
            issue.to_string(),
            "u.csv:9: primary_email `a@example.com`: expected a unique primary address (see also u.csv:4)"
        );
        let dn = SourceIssue::new(Location::dn("CN=Ann,DC=example,DC=test"), "one SMTP: value");
        assert_eq!(
            dn.to_string(),
            "dn `CN=Ann,DC=example,DC=test`: expected one SMTP: value"
        );
    }

    #[test]
    fn excerpts_are_cut_and_sanitised() {
        let long = "x".repeat(200);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), VALUE_EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("a\nb\u{202e}"), "a\\nb\\u{202e}");
    }

    #[test]
    fn a_note_keeps_the_first_examples_in_sort_order_whatever_the_order_they_came_in() {
        let names = ["f@x", "b@x", "a@x", "e@x", "d@x", "c@x", "b@x"];
        let mut forward = SourceNote::new(NoteKind::WithoutMail, false);
        let mut backward = SourceNote::new(NoteKind::WithoutMail, false);
        names.iter().for_each(|n| forward.add(n));
        names.iter().rev().for_each(|n| backward.add(n));
        assert_eq!(forward, backward);
        assert_eq!(forward.count, 7);
        assert_eq!(forward.examples, ["a@x", "b@x", "c@x", "d@x", "e@x"]);
        let mut kept = SourceNote::new(NoteKind::ExternalMembers, true);
        kept.add("line\nbreak\u{200b}");
        assert_eq!(
            kept.to_string(),
            "1 external members (#EXT#, userType Member) kept (e.g. `line\\nbreak\\u{200b}`)"
        );
    }

    #[test]
    fn notes_are_left_out_of_the_json_when_there_are_none() {
        let mut s = DirectorySnapshot::new("graph", FieldSet::empty());
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("notes"), "{json}");
        s.notes.push(SourceNote::new(NoteKind::Guests, false));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""notes":[{"kind":"guests","count":0,"examples":[],"kept":false}]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<DirectorySnapshot>(&json).unwrap(), s);
        assert!(s.note(NoteKind::Guests).is_some());
        assert!(s.note(NoteKind::WithoutMail).is_none());
    }

    #[test]
    fn partial_snapshot_is_not_complete() {
        let s = DirectorySnapshot::new("ldap", FieldSet::empty()).partial("size limit hit");
        assert!(!s.is_complete());
        let json = serde_json::to_string(&s.completeness).unwrap();
        assert_eq!(
            json,
            r#"{"completeness":"partial","reason":"size limit hit"}"#
        );
    }
}
