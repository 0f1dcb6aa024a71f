//! The apply journal: an append-only JSON-lines file that records which plan
//! is being applied and each change's outcome as it happens, so a run that
//! crashed can be resumed without sending a create or delete twice.
//!
//! ```text
//! {"event":"plan","version":1,"fingerprint":"…","stack":"us1","org":"example.com","changes":3}
//! {"event":"begin","id":0,"email":"ann@example.com","at":"2026-11-02T09:00:01.5Z"}
//! {"event":"end","id":0,"email":"ann@example.com","outcome":"applied","at":"2026-11-02T09:00:02Z"}
//! {"event":"halt","halt":"breaker","reason":"…","at":"2026-11-02T09:00:09Z"}
//! ```
//!
//! A `begin` without an `end` is a change whose writes may or may not have
//! reached the gateway (the process died in between): the next run settles
//! it by reading the account back. An `end` marked `in_doubt` is a change
//! that failed part-way (a rename whose old account could not be deleted).
//! Only `applied` ends are skipped on resume; everything else is attempted
//! again. Each line is written with one call and synced before the executor
//! goes on. Lines hold addresses, outcomes and error texts — never secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use muster_reconcile::Plan;
use serde::{Deserialize, Serialize};

use super::error::ApplyError;
use super::report::{Halt, Outcome};

/// The journal format this muster reads and writes.
const JOURNAL_VERSION: u32 = 1;

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Entry {
    /// The first line: which plan this journal belongs to.
    Plan {
        version: u32,
        fingerprint: String,
        stack: String,
        org: String,
        changes: usize,
    },
    /// A change is about to write.
    Begin {
        id: u32,
        email: String,
        /// When (for the audit trail; never read back).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// A change's outcome.
    End {
        id: u32,
        email: String,
        #[serde(flatten)]
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        in_doubt: bool,
        /// When (for the audit trail; never read back).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// A run began, applying this subset of the plan (`None`: all of it).
    Run {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subset: Option<Vec<u32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// The run stopped sending, and why (for the audit trail; a rerun
    /// resumes from the begin and end lines alone).
    Halt {
        #[serde(flatten)]
        halt: Halt,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
}

/// What an earlier run of the same plan left behind.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    /// Changes applied by an earlier run: not sent again.
    pub(crate) done: BTreeSet<u32>,
    /// Changes that may have been partly written: settled by reading back.
    pub(crate) in_doubt: BTreeSet<u32>,
    /// The subset the last run applied (`Some(None)`: the whole plan;
    /// `None`: no run recorded one).
    pub(crate) last_subset: Option<Option<Vec<u32>>>,
}

/// An open journal, appended to line by line.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

/// Reads the journal at `path` (if any) for `plan`, and opens it for
/// appending when `write` is set (not in a dry run, which writes nothing).
pub(crate) fn open(
    path: &Path,
    plan: &Plan,
    write: bool,
) -> Result<(Option<Journal>, Resume), ApplyError> {
    let io = |source| ApplyError::JournalIo {
        path: path.to_owned(),
        source,
    };
    let existing = match File::open(path) {
        Ok(mut f) => {
            let mut text = String::new();
            f.read_to_string(&mut text).map_err(io)?;
            Some(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let (resume, keep) = match &existing {
        Some(text) if !text.trim().is_empty() => read(path, plan, text)?,
        _ => (Resume::default(), 0),
    };
    if !write {
        return Ok((None, resume));
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // A new journal is readable by its owner only: it lists the accounts
    // changed and how (the CLI's state and cursor files are kept the same way).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    let len = existing.as_ref().map_or(0, String::len);
    if keep < len {
        // A torn last line (the process died while writing it): cut it off
        // so the next line starts cleanly.
        file.set_len(keep as u64).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
    }
    let mut journal = Journal {
        path: path.to_owned(),
        file,
    };
    if keep == 0 {
        journal
            .write(&Entry::Plan {
                version: JOURNAL_VERSION,
                fingerprint: plan.fingerprint.clone(),
                stack: plan.stack.clone(),
                org: plan.org.clone(),
                changes: plan.changes.len(),
            })
            .map_err(io)?;
    }
    Ok((Some(journal), resume))
}

/// Parses a journal's text; returns what it says and how many bytes of it
/// are whole lines (a torn last line is not counted).
fn read(path: &Path, plan: &Plan, text: &str) -> Result<(Resume, usize), ApplyError> {
    let corrupt = |line: usize, reason: String| ApplyError::JournalCorrupt {
        path: path.to_owned(),
        line,
        reason,
    };
    let emails: BTreeMap<u32, &muster_core::EmailAddress> =
        plan.changes.iter().map(|c| (c.id, &c.email)).collect();
    let mut resume = Resume::default();
    let mut whole = 0usize;
    let mut offset = 0usize;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (n, raw) in lines.iter().enumerate() {
        let number = n + 1;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let last = number == lines.len();
        if line.trim().is_empty() {
            whole = offset;
            continue;
        }
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            // Only the very last line can be torn, and only if it never got its newline.
            Err(_) if last && !raw.ends_with('\n') => break,
            Err(e) => return Err(corrupt(number, e.to_string())),
        };
        whole = offset;
        match entry {
            Entry::Plan {
                version,
                fingerprint,
                ..
            } => {
                if number != 1 {
                    return Err(corrupt(number, "a second plan header".into()));
                }
                if version != JOURNAL_VERSION {
                    return Err(corrupt(
                        number,
                        format!("journal version {version}, this muster reads {JOURNAL_VERSION}"),
                    ));
                }
                if fingerprint != plan.fingerprint {
                    return Err(ApplyError::JournalForAnotherPlan {
                        path: path.to_owned(),
                        found: fingerprint,
                        expected: plan.fingerprint.clone(),
                    });
                }
            }
            _ if number == 1 => {
                return Err(corrupt(
                    number,
                    "the first line is not a plan header".into(),
                ));
            }
            Entry::Begin { id, email, .. } => {
                check_change(&emails, id, &email).map_err(|r| corrupt(number, r))?;
                if !resume.done.contains(&id) {
                    resume.in_doubt.insert(id);
                }
            }
            Entry::End {
                id,
                email,
                outcome,
                in_doubt,
                ..
            } => {
                check_change(&emails, id, &email).map_err(|r| corrupt(number, r))?;
                if matches!(outcome, Outcome::Applied | Outcome::AlreadyApplied) {
                    resume.done.insert(id);
                    resume.in_doubt.remove(&id);
                } else if in_doubt {
                    resume.in_doubt.insert(id);
                } else {
                    resume.in_doubt.remove(&id);
                }
            }
            Entry::Run { subset, .. } => resume.last_subset = Some(subset),
            Entry::Halt { .. } => {}
        }
    }
    Ok((resume, whole))
}

/// A journal line must name a change of this plan by its id and address.
fn check_change(
    emails: &BTreeMap<u32, &muster_core::EmailAddress>,
    id: u32,
    email: &str,
) -> Result<(), String> {
    match emails.get(&id) {
        None => Err(format!("change #{id} is not in the plan")),
        Some(e) if e.as_str().eq_ignore_ascii_case(email) || e.normalized() == email => Ok(()),
        Some(e) => Err(format!("change #{id} is {email} here but {e} in the plan")),
    }
}

impl Journal {
    /// Records that change `id` is about to write.
    pub(crate) fn begin(&mut self, id: u32, email: &str) -> std::io::Result<()> {
        self.write(&Entry::Begin {
            id,
            email: email.to_owned(),
            at: Some(Utc::now()),
        })
    }

    /// Records change `id`'s outcome.
    pub(crate) fn end(
        &mut self,
        id: u32,
        email: &str,
        outcome: &Outcome,
        in_doubt: bool,
    ) -> std::io::Result<()> {
        self.write(&Entry::End {
            id,
            email: email.to_owned(),
            outcome: outcome.clone(),
            in_doubt,
            at: Some(Utc::now()),
        })
    }

    /// Records why the run stopped sending.
    /// Records that a run begins, and the subset of the plan it applies.
    pub(crate) fn run(&mut self, subset: Option<&BTreeSet<u32>>) -> std::io::Result<()> {
        self.write(&Entry::Run {
            subset: subset.map(|s| s.iter().copied().collect()),
            at: Some(Utc::now()),
        })
    }

    pub(crate) fn halt(&mut self, halt: &Halt) -> std::io::Result<()> {
        self.write(&Entry::Halt {
            halt: halt.clone(),
            at: Some(Utc::now()),
        })
    }

    /// One line, one write call, synced: a crash loses at most the line
    /// being written, and [`open`] cuts a torn line off.
    fn write(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()?;
        self.file.sync_data()
    }

    /// The journal's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::testing;
    use serde_json::json;

    fn two_changes() -> Plan {
        testing::plan(
            vec![
                testing::change(0, "ann@example.com", json!([{"step": "flag"}])),
                testing::change(1, "bob@example.com", json!([{"step": "delete"}])),
            ],
            json!([]),
        )
    }

    /// The header line a journal of [`two_changes`] starts with.
    fn header() -> String {
        format!(
            r#"{{"event":"plan","version":1,"fingerprint":"{}","stack":"us1","org":"example.com","changes":2}}"#,
            two_changes().fingerprint
        )
    }

    fn read_text(text: &str) -> Result<(Resume, usize), ApplyError> {
        read(Path::new("j.jsonl"), &two_changes(), text)
    }

    #[test]
    fn applied_ends_are_done_and_begins_without_an_end_are_in_doubt() {
        let header = header();
        let text = format!(
            "{header}\n{}\n{}\n{}\n",
            r#"{"event":"begin","id":0,"email":"ann@example.com"}"#,
            r#"{"event":"end","id":0,"email":"ann@example.com","outcome":"applied"}"#,
            r#"{"event":"begin","id":1,"email":"BOB@example.com"}"#,
        );
        let (resume, whole) = read_text(&text).unwrap();
        assert_eq!(resume.done, BTreeSet::from([0]));
        assert_eq!(resume.in_doubt, BTreeSet::from([1]));
        assert_eq!(whole, text.len());
    }

    #[test]
    fn a_failure_is_retried_and_in_doubt_only_when_marked() {
        let header = header();
        let text = format!(
            "{header}\n{}\n{}\n",
            r#"{"event":"begin","id":1,"email":"bob@example.com"}"#,
            r#"{"event":"end","id":1,"email":"bob@example.com","outcome":"stale","reason":"gone"}"#,
        );
        let (resume, _) = read_text(&text).unwrap();
        assert!(resume.done.is_empty() && resume.in_doubt.is_empty());
        let marked = text.replace(
            r#""outcome":"stale","reason":"gone""#,
            r#""outcome":"failed","error":"503","retryable":true,"in_doubt":true"#,
        );
        let (resume, _) = read_text(&marked).unwrap();
        assert_eq!(resume.in_doubt, BTreeSet::from([1]));
    }

    #[test]
    fn only_an_unterminated_last_line_may_be_torn() {
        let header = header();
        let torn = format!("{header}\n{{\"event\":\"beg");
        let (_, whole) = read_text(&torn).unwrap();
        assert_eq!(whole, header.len() + 1, "the torn line is cut off");
        let middle = format!(
            "{header}\n{{\"event\":\"beg\n{}\n",
            r#"{"event":"begin","id":0,"email":"ann@example.com"}"#
        );
        assert!(matches!(
            read_text(&middle),
            Err(ApplyError::JournalCorrupt { line: 2, .. })
        ));
    }

    #[test]
    fn a_journal_must_be_of_this_plan_and_name_its_changes() {
        let header = header();
        let other = header.replace(&two_changes().fingerprint, "00000000000000bb");
        assert!(matches!(
            read_text(&format!("{other}\n")),
            Err(ApplyError::JournalForAnotherPlan { .. })
        ));
        let begin = |id: u32| format!(r#"{{"event":"begin","id":{id},"email":"ann@example.com"}}"#);
        let cases = [
            // A change this plan does not have.
            (format!("{header}\n{}\n", begin(7)), 2),
            // A change of this plan, for another account.
            (format!("{header}\n{}\n", begin(1)), 2),
            // No header.
            (format!("{}\n", begin(0)), 1),
        ];
        for (text, line) in cases {
            assert!(
                matches!(read_text(&text), Err(ApplyError::JournalCorrupt { line: l, .. }) if l == line),
                "{text}"
            );
        }
    }

    #[test]
    fn open_writes_the_header_once_and_repairs_a_torn_line() {
        let header = header();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let plan = two_changes();
        let (dry, _) = open(&path, &plan, false).unwrap();
        assert!(dry.is_none() && !path.exists(), "a dry run creates nothing");
        let (journal, _) = open(&path, &plan, true).unwrap();
        journal.unwrap().begin(1, "bob@example.com").unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next(), Some(header.as_str()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "only its owner reads a journal: {mode:o}"
            );
        }
        text.push_str(r#"{"event":"end","id":1,"#);
        std::fs::write(&path, &text).unwrap();
        let (journal, resume) = open(&path, &plan, true).unwrap();
        assert_eq!(resume.in_doubt, BTreeSet::from([1]));
        let outcome = Outcome::Applied;
        journal
            .unwrap()
            .end(1, "bob@example.com", &outcome, false)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        );
        let (_, resume) = open(&path, &plan, true).unwrap();
        assert_eq!(resume.done, BTreeSet::from([1]));
    }

    #[test]
    fn an_end_line_round_trips_with_its_outcome() {
        let entry = Entry::End {
            id: 3,
            email: "a@example.com".into(),
            outcome: Outcome::Failed {
                error: "gateway returned 503".into(),
                retryable: true,
            },
            in_doubt: true,
            at: None,
        };
        let line = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            line,
            r#"{"event":"end","id":3,"email":"a@example.com","outcome":"failed","error":"gateway returned 503","retryable":true,"in_doubt":true}"#
        );
        let back: Entry = serde_json::from_str(&line).unwrap();
        assert!(matches!(
            back,
            Entry::End {
                id: 3,
                in_doubt: true,
                outcome: Outcome::Failed {
                    retryable: true,
                    ..
                },
                ..
            }
        ));
        let applied: Entry =
            serde_json::from_str(r#"{"event":"end","id":1,"email":"b@x.com","outcome":"applied"}"#)
                .unwrap();
        assert!(matches!(
            applied,
            Entry::End {
                outcome: Outcome::Applied,
                in_doubt: false,
                ..
            }
        ));
    }
}
