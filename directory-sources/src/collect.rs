//! Gathering entries while keeping every address owned by exactly one entry.
//!
//! An address that two entries claim would make the gateway bounce between
//! them on every run, so the first claim wins and the later one becomes an
//! issue naming both lines; a primary address always beats an alias, because
//! dropping a user's primary would drop the user.

use std::collections::HashMap;

use muster_core::{
    DirectoryEntry, DirectorySnapshot, EmailAddress, FieldSet, Location, SourceIssue,
};

/// Where an address was claimed: which entry, which file and line, and how.
#[derive(Clone, Copy)]
struct Claim {
    entry: usize,
    file: u8,
    line: u64,
    primary: bool,
}

/// Entries in input order, with duplicate detection. Memory grows with the
/// number of distinct addresses, which is all a streaming reader keeps.
pub(crate) struct Collector {
    files: Vec<String>,
    entries: Vec<DirectoryEntry>,
    claims: HashMap<Box<str>, Claim>,
    issues: Vec<SourceIssue>,
}

impl Collector {
    /// A collector whose first file (index 0) is `file`.
    pub(crate) fn new(file: &str) -> Self {
        Collector {
            files: vec![file.to_owned()],
            entries: Vec::new(),
            claims: HashMap::new(),
            issues: Vec::new(),
        }
    }

    /// Registers another file (e.g. a Postini alias export) and returns its index.
    pub(crate) fn add_file(&mut self, file: &str) -> u8 {
        self.files.push(file.to_owned());
        u8::try_from(self.files.len() - 1).unwrap_or(u8::MAX)
    }

    fn location(&self, file: u8, line: u64) -> Location {
        Location::line(&self.files[usize::from(file)], line)
    }

    /// Records an issue.
    pub(crate) fn issue(&mut self, issue: SourceIssue) {
        self.issues.push(issue);
    }

    /// Adds an entry read at `line` of file 0; its aliases are checked one by one.
    /// Returns the entry's index, or `None` when its primary was already taken.
    pub(crate) fn add(&mut self, mut entry: DirectoryEntry, line: u64) -> Option<usize> {
        let key: Box<str> = entry.primary_email.normalized().into();
        let index = self.entries.len();
        if let Some(first) = self.claims.get(&key).copied() {
            if first.primary {
                let issue = SourceIssue::new(
                    self.location(0, line),
                    "a primary address that no earlier line uses",
                )
                .with_field("primary_email")
                .with_value(entry.primary_email.as_str())
                .with_related(self.location(first.file, first.line));
                self.issues.push(issue);
                return None;
            }
            // An earlier alias of someone else: the primary wins, the alias goes.
            let taken = entry.primary_email.clone();
            self.entries[first.entry].aliases.remove(&taken);
            let issue = SourceIssue::new(
                self.location(first.file, first.line),
                "an alias that is not another user's primary address",
            )
            .with_field("alias")
            .with_value(taken.as_str())
            .with_related(self.location(0, line));
            self.issues.push(issue);
        }
        self.claims.insert(
            key,
            Claim {
                entry: index,
                file: 0,
                line,
                primary: true,
            },
        );
        let aliases = std::mem::take(&mut entry.aliases);
        self.entries.push(entry);
        for alias in aliases {
            self.add_alias(index, alias, 0, line);
        }
        Some(index)
    }

    /// Gives `alias` (read at `line` of `file`) to entry `index`, unless another entry has it.
    pub(crate) fn add_alias(&mut self, index: usize, alias: EmailAddress, file: u8, line: u64) {
        if alias == self.entries[index].primary_email {
            return;
        }
        let key: Box<str> = alias.normalized().into();
        match self.claims.get(&key).copied() {
            Some(first) if first.entry == index => {}
            Some(first) => {
                let expected = if first.primary {
                    "an alias that is not another user's primary address"
                } else {
                    "an alias that no other user has"
                };
                let issue = SourceIssue::new(self.location(file, line), expected)
                    .with_field("alias")
                    .with_value(alias.as_str())
                    .with_related(self.location(first.file, first.line));
                self.issues.push(issue);
            }
            None => {
                self.claims.insert(
                    key,
                    Claim {
                        entry: index,
                        file,
                        line,
                        primary: false,
                    },
                );
                self.entries[index].aliases.insert(alias);
            }
        }
    }

    /// The entry whose primary address is `address`, if any.
    pub(crate) fn entry_with_primary(&self, address: &EmailAddress) -> Option<usize> {
        self.claims
            .get(address.normalized())
            .filter(|c| c.primary)
            .map(|c| c.entry)
    }

    /// The entries read so far.
    pub(crate) fn entries(&self) -> &[DirectoryEntry] {
        &self.entries
    }

    /// A complete snapshot of what was collected.
    pub(crate) fn into_snapshot(self, source: &str, provided: FieldSet) -> DirectorySnapshot {
        let mut snapshot = DirectorySnapshot::new(source, provided).with_entries(self.entries);
        snapshot.issues = self.issues;
        // Issues are found in reading order (a later primary reports an earlier alias); show them by place.
        snapshot.issues.sort_by(|a, b| a.location.cmp(&b.location));
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(primary: &str, aliases: &[&str]) -> DirectoryEntry {
        DirectoryEntry::new(primary.parse().unwrap())
            .with_aliases(aliases.iter().map(|a| a.parse().unwrap()))
    }

    #[test]
    fn a_later_primary_takes_an_address_back_from_an_earlier_alias() {
        let mut c = Collector::new("u.csv");
        c.add(entry("a@x.com", &["shared@x.com"]), 2);
        c.add(entry("Shared@X.com", &[]), 5);
        let s = c.into_snapshot("u.csv", FieldSet::empty());
        let (entries, issues) = (s.entries, s.issues);
        assert!(entries[0].aliases.is_empty());
        assert_eq!(entries.len(), 2);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].location, Location::line("u.csv", 2));
        assert_eq!(issues[0].related, Some(Location::line("u.csv", 5)));
    }

    #[test]
    fn an_alias_claimed_twice_stays_with_the_first() {
        let mut c = Collector::new("u.csv");
        c.add(entry("a@x.com", &["s@x.com"]), 2);
        c.add(entry("b@x.com", &["s@x.com", "a@x.com"]), 3);
        let s = c.into_snapshot("u.csv", FieldSet::empty());
        let (entries, issues) = (s.entries, s.issues);
        assert_eq!(entries[0].aliases.len(), 1);
        assert!(entries[1].aliases.is_empty());
        assert_eq!(issues.len(), 2);
        assert!(
            issues
                .iter()
                .all(|i| i.location == Location::line("u.csv", 3))
        );
    }
}
