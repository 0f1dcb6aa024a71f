//! A bounded list of issues, so that a file of garbage cannot fill memory with complaints.

use muster_core::{Location, SourceIssue};

/// At most this many issues are kept per source; the rest are counted.
pub const MAX_ISSUES: usize = 10_000;

/// Issues in the order found, up to [`MAX_ISSUES`], then a count.
#[derive(Default)]
pub(crate) struct Issues {
    kept: Vec<SourceIssue>,
    omitted: u64,
    first_omitted: Option<Location>,
}

impl Issues {
    /// Records an issue, or counts it once the list is full.
    pub(crate) fn push(&mut self, issue: SourceIssue) {
        if self.kept.len() < MAX_ISSUES {
            self.kept.push(issue);
        } else {
            self.omitted += 1;
            self.first_omitted.get_or_insert(issue.location);
        }
    }

    /// The issues sorted by place, with one closing issue saying how many were left out.
    pub(crate) fn into_sorted(self) -> Vec<SourceIssue> {
        let mut issues = self.kept;
        // Found in reading order (a later primary reports an earlier alias); shown by place.
        issues.sort_by(|a, b| a.location.cmp(&b.location));
        if let Some(first) = self.first_omitted {
            issues.push(SourceIssue::new(
                first,
                format!(
                    "fewer problems: {} more issues from here on are not listed (at most {MAX_ISSUES} are kept)",
                    self.omitted
                ),
            ));
        }
        issues
    }
}
