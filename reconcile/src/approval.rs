//! Approving part of a reviewed plan, without cutting mail flow.
//!
//! The vendor's sync preview has "Exempt from Sync" on every row; Entra
//! Connect's users cannot reject only some pending deletes. muster lets a
//! reviewer exclude changes (or apply only some), but never half of an
//! address move: an alias moving from A to B is A's removal and B's
//! addition, and applying one without the other either drops the address
//! (mail to it bounces) or fails. So changes that release an address to
//! one another form one **approval unit**, approved or excluded whole.
//!
//! The approval file, defined once:
//!
//! ```text
//! plan: 1ba20c7a68063543        # required: the plan it approves
//! bob@example.com               # an address: the change(s) for it
//! #12                           # a change id
//! # a comment; blank lines are ignored
//! ```
//!
//! A reviewer can also mark the `exclude` column of the CSV preview in a
//! spreadsheet and hand the saved file back ([`Selection::from_reviewed_csv`]).

use std::collections::{BTreeMap, BTreeSet};

use muster_core::EmailAddress;

use crate::error::PlanError;
use crate::plan::{Plan, Step};

/// One line of an approval: an address, or a change by its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Pick {
    /// The change(s) of this account (its primary, or the primary it had).
    Address(EmailAddress),
    /// The change with this id.
    Change(u32),
}

impl std::str::FromStr for Pick {
    type Err = PlanError;
    /// `#12` is a change id; anything else is an address.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(id) = s.strip_prefix('#') {
            return id.parse().map(Pick::Change).map_err(|_| {
                PlanError::Approval(format!(
                    "`{}` is not a change id like #12",
                    muster_core::sanitize(s)
                ))
            });
        }
        s.parse().map(Pick::Address).map_err(|e| {
            PlanError::Approval(format!(
                "`{}` is not an address or a change id: {e}",
                muster_core::sanitize(s)
            ))
        })
    }
}

/// What a reviewer picked out of one plan: the plan's fingerprint and the
/// picks (to exclude, or to apply only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    /// The fingerprint of the plan the selection was made for.
    pub fingerprint: String,
    /// The addresses and change ids picked.
    pub picks: Vec<Pick>,
    /// With a plan key: its id and the HMAC of the approval (`signature:
    /// <key id> <mac>`), so an approval file cannot be written by whoever
    /// can only write files.
    pub signature: Option<(String, String)>,
}

impl Selection {
    /// Reads an approval file (see the module's doc). Errors name the line.
    ///
    /// ```
    /// use muster_reconcile::{Pick, Selection};
    /// let s = Selection::parse("plan: 00ff\n# leavers to keep\nbob@example.com\n#3 # and this one\n")?;
    /// assert_eq!(s.fingerprint, "00ff");
    /// assert_eq!(s.picks, [Pick::Address("bob@example.com".parse()?), Pick::Change(3)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PlanError::Approval`]: no `plan:` header, or a line that is neither
    /// an address nor a change id.
    pub fn parse(text: &str) -> Result<Selection, PlanError> {
        let mut fingerprint = None;
        let mut signature = None;
        let mut picks = Vec::new();
        for (n, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            // `#12` is an id; `#` followed by anything else starts a comment,
            // as does ` #` after a value.
            let line = match line.find(" #").or_else(|| line.find("\t#")) {
                Some(i) => &line[..i],
                None => line,
            };
            let line = line.trim();
            if line.is_empty() || (line.starts_with('#') && !is_change_id(line)) {
                continue;
            }
            if let Some(value) = line.strip_prefix("plan:") {
                fingerprint = Some(value.trim().to_owned());
                continue;
            }
            if let Some(value) = line.strip_prefix("signature:") {
                let mut parts = value.split_whitespace();
                if let (Some(id), Some(mac), None) = (parts.next(), parts.next(), parts.next()) {
                    signature = Some((id.to_owned(), mac.to_owned()));
                    continue;
                }
                return Err(PlanError::Approval(format!(
                    "line {}: expected `signature: <key id> <mac>`",
                    n + 1
                )));
            }
            let pick = line.parse().map_err(|e: PlanError| {
                PlanError::Approval(format!("line {}: {}", n + 1, approval_text(&e)))
            })?;
            picks.push(pick);
        }
        let fingerprint = fingerprint.ok_or_else(|| {
            PlanError::Approval(
                "no `plan: <fingerprint>` line: an approval names the plan it was made for".into(),
            )
        })?;
        Ok(Selection {
            fingerprint,
            picks,
            signature,
        })
    }

    /// The approval file's text: the `plan:` line, one pick per line, and
    /// the signature when it is signed. [`Selection::parse`] reads it back.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = self.canonical();
        if let Some((id, mac)) = &self.signature {
            out.push_str(&format!("signature: {id} {mac}\n"));
        }
        out
    }

    /// What a signature covers: the plan line and the picks, one per line.
    fn canonical(&self) -> String {
        let mut out = format!("plan: {}\n", self.fingerprint);
        for pick in &self.picks {
            match pick {
                Pick::Change(id) => out.push_str(&format!("#{id}\n")),
                Pick::Address(a) => out.push_str(&format!("{}\n", a.normalized())),
            }
        }
        out
    }

    /// The approval file `muster approve` writes for `plan`: each change
    /// `approval` leaves out, by id (ids name exactly one change of one
    /// plan; an address could match another change later), signed with
    /// `key` when there is one.
    #[must_use]
    pub fn leaving_out(
        plan: &Plan,
        approval: &crate::Approval,
        key: Option<&crate::PlanKey>,
    ) -> Selection {
        let mut selection = Selection {
            fingerprint: plan.fingerprint.clone(),
            picks: approval
                .excluded
                .iter()
                .map(|id| Pick::Change(*id))
                .collect(),
            signature: None,
        };
        if let Some(key) = key {
            selection.sign(key);
        }
        selection
    }

    /// Signs the approval with a plan key.
    pub fn sign(&mut self, key: &crate::PlanKey) {
        use hmac::Mac;
        let mac = key.approval_mac(&self.canonical()).finalize().into_bytes();
        self.signature = Some((key.id().to_owned(), crate::signing::hex(&mac)));
    }

    /// Checks the approval's signature against `key`, in constant time.
    ///
    /// # Errors
    /// [`PlanError::Approval`] when it is unsigned,
    /// [`PlanError::SignedWithAnotherKey`] or [`PlanError::BadSignature`].
    pub fn verify(&self, key: &crate::PlanKey) -> Result<(), PlanError> {
        use hmac::Mac;
        let Some((id, mac)) = &self.signature else {
            return Err(PlanError::Approval(
                "the approval is not signed, and with a plan key approvals must be: make it with `muster approve`".into(),
            ));
        };
        if id != key.id() {
            return Err(PlanError::SignedWithAnotherKey {
                plan_key: id.clone(),
                key: key.id().to_owned(),
            });
        }
        let given = crate::signing::unhex(mac).ok_or(PlanError::BadSignature)?;
        key.approval_mac(&self.canonical())
            .verify_slice(&given)
            .map_err(|_| PlanError::BadSignature)
    }

    /// Reads the CSV preview back after a reviewer marked its `exclude`
    /// column (any non-blank cell) in a spreadsheet: the `plan` row gives
    /// the fingerprint, each marked row its address. Excel's ways of saving
    /// are read: a byte-order mark, `;` as the separator, CRLF.
    ///
    /// # Errors
    /// [`PlanError::Approval`]: no `plan` row, no `exclude` or `email` column,
    /// or a marked row without a usable address.
    pub fn from_reviewed_csv(text: &str) -> Result<Selection, PlanError> {
        let text = text.trim_start_matches('\u{feff}');
        let first = text.lines().next().unwrap_or_default();
        let delimiter = if first.matches(';').count() > first.matches(',').count() {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut fingerprint = None;
        let mut columns: Option<(usize, usize)> = None;
        let mut picks = Vec::new();
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| PlanError::Approval(format!("row {}: {e}", n + 1)))?;
            let cell = |i: usize| record.get(i).unwrap_or("").trim();
            if cell(0) == "plan" && fingerprint.is_none() {
                fingerprint = Some(cell(1).to_owned());
                continue;
            }
            let Some((email, exclude)) = columns else {
                let find = |name: &str| record.iter().position(|h| h.trim() == name);
                columns = match (find("email"), find("exclude")) {
                    (Some(e), Some(x)) => Some((e, x)),
                    _ => {
                        return Err(PlanError::Approval(format!(
                            "row {}: expected the preview's header with `email` and `exclude` columns",
                            n + 1
                        )));
                    }
                };
                continue;
            };
            if cell(exclude).is_empty() {
                continue;
            }
            // The preview neutralised cells a spreadsheet would run (`'=…`).
            let address = cell(email).trim_start_matches('\'');
            let pick = Pick::Address(address.parse().map_err(|e| {
                PlanError::Approval(format!(
                    "row {}: the marked row has no usable address: {e}",
                    n + 1
                ))
            })?);
            if !picks.contains(&pick) {
                picks.push(pick);
            }
        }
        let fingerprint = fingerprint.ok_or_else(|| {
            PlanError::Approval("no `plan` row: is this muster's CSV preview of a plan?".into())
        })?;
        Ok(Selection {
            fingerprint,
            picks,
            signature: None,
        })
    }
}

fn is_change_id(line: &str) -> bool {
    line.len() > 1 && line[1..].bytes().all(|b| b.is_ascii_digit())
}

fn approval_text(e: &PlanError) -> String {
    match e {
        PlanError::Approval(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The changes a reviewer approved out of one plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Approval {
    /// The ids of the changes to apply.
    pub included: BTreeSet<u32>,
    /// The ids of the changes left out (reported as skipped, excluded).
    pub excluded: BTreeSet<u32>,
    /// Changes brought in (or left out) with a picked one because they
    /// share its approval unit: (the picked change, the others of its unit).
    pub brought_along: Vec<(u32, Vec<u32>)>,
}

impl Plan {
    /// The approval units: changes that release an address to one another
    /// (through `depends_on`, either way), each unit sorted by id.
    #[must_use]
    pub fn approval_units(&self) -> Vec<BTreeSet<u32>> {
        let mut parent: BTreeMap<u32, u32> = self.changes.iter().map(|c| (c.id, c.id)).collect();
        fn root(parent: &mut BTreeMap<u32, u32>, mut id: u32) -> u32 {
            while parent[&id] != id {
                id = parent[&id];
            }
            id
        }
        for change in &self.changes {
            for &other in &change.depends_on {
                if parent.contains_key(&other) {
                    let (a, b) = (root(&mut parent, change.id), root(&mut parent, other));
                    parent.insert(a.max(b), a.min(b));
                }
            }
        }
        let mut units: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for change in &self.changes {
            let r = root(&mut parent, change.id);
            units.entry(r).or_default().insert(change.id);
        }
        units.into_values().collect()
    }

    /// Which changes to apply when `only` (if any is given) and `exclude`
    /// are picked: whole approval units, never a part of one. `only` takes
    /// the units of its picks; `exclude` then removes the units of its.
    ///
    /// # Errors
    /// [`PlanError::Approval`] when a pick matches no change of this plan
    /// (a typo must not approve more than was meant).
    pub fn approve(&self, only: &[Pick], exclude: &[Pick]) -> Result<Approval, PlanError> {
        let units = self.approval_units();
        let unit_of = |id: u32| {
            units
                .iter()
                .find(|u| u.contains(&id))
                .cloned()
                .unwrap_or_default()
        };
        let mut brought_along = Vec::new();
        let mut pick_units = |picks: &[Pick]| -> Result<BTreeSet<u32>, PlanError> {
            let mut ids = BTreeSet::new();
            for pick in picks {
                let matched = self.changes_of(pick);
                if matched.is_empty() {
                    return Err(PlanError::Approval(format!(
                        "{} is not a change of this plan",
                        describe(pick)
                    )));
                }
                for id in matched {
                    let unit = unit_of(id);
                    let others: Vec<u32> = unit.iter().copied().filter(|o| *o != id).collect();
                    if !others.is_empty() && !ids.contains(&id) {
                        brought_along.push((id, others));
                    }
                    ids.extend(unit);
                }
            }
            Ok(ids)
        };
        let all: BTreeSet<u32> = self.changes.iter().map(|c| c.id).collect();
        let mut included = if only.is_empty() {
            all.clone()
        } else {
            pick_units(only)?
        };
        let excluded_units = pick_units(exclude)?;
        included.retain(|id| !excluded_units.contains(id));
        let excluded = all.difference(&included).copied().collect();
        Ok(Approval {
            included,
            excluded,
            brought_along,
        })
    }

    /// The ids of the changes a pick names.
    fn changes_of(&self, pick: &Pick) -> Vec<u32> {
        self.changes
            .iter()
            .filter(|c| match pick {
                Pick::Change(id) => c.id == *id,
                Pick::Address(a) => {
                    c.email == *a
                        || c.steps
                            .iter()
                            .any(|s| matches!(s, Step::ChangePrimary { from, .. } if from == a))
                }
            })
            .map(|c| c.id)
            .collect()
    }
}

fn describe(pick: &Pick) -> String {
    match pick {
        Pick::Address(a) => format!("`{a}`"),
        Pick::Change(id) => format!("#{id}"),
    }
}
