//! One account change → the gateway client's calls: preconditions re-checked,
//! one read-merge-write per account, creates (bulk where the dialect has it),
//! deletes, and the four steps of a primary-address change.

use std::collections::{BTreeMap, BTreeSet};

use muster_core::{Account, EmailAddress, Field, UserType, error_chain};
use muster_gateway::{
    Client, Error as GatewayError, FieldValue, NewUser, RemoteUser, UserPatch, WelcomeEmail,
    field_value,
};
use muster_reconcile::{AccountChange, Step};
use serde_json::{Map, Value};

use super::report::Outcome;

/// What one change (or one member of a bulk create) came to.
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) outcome: Outcome,
    /// Some write may have reached the gateway although the change did not
    /// succeed: the next run settles it by reading back.
    pub(crate) in_doubt: bool,
    /// The gateway error behind a failure, for the error policy.
    pub(crate) error: Option<Box<GatewayError>>,
}

impl Done {
    fn applied() -> Self {
        Done {
            outcome: Outcome::Applied,
            in_doubt: false,
            error: None,
        }
    }

    fn stale(reason: impl Into<String>) -> Self {
        Done {
            outcome: Outcome::Stale {
                reason: reason.into(),
            },
            in_doubt: false,
            error: None,
        }
    }

    /// A failure before any write.
    fn refused(error: impl Into<String>) -> Self {
        Done {
            outcome: Outcome::Failed {
                error: error.into(),
                retryable: false,
            },
            in_doubt: false,
            error: None,
        }
    }

    /// A gateway error; `context` says which step, when the change has several.
    fn failed(error: GatewayError, context: &str, in_doubt: bool) -> Self {
        let text = if context.is_empty() {
            error_chain(&error)
        } else {
            format!("{context}: {}", error_chain(&error))
        };
        Done {
            outcome: Outcome::Failed {
                error: text,
                retryable: error.is_retryable(),
            },
            in_doubt,
            error: Some(Box::new(error)),
        }
    }

    fn dry_run(requests: Vec<String>) -> Self {
        Done {
            outcome: Outcome::DryRun { requests },
            in_doubt: false,
            error: None,
        }
    }
}

/// What the executor knows before the first change runs.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a Client,
    /// A dry run checks against this listing (one read) and writes nothing.
    pub(crate) listing: Option<BTreeMap<EmailAddress, Account>>,
    /// Group name → id, read once when some change touches memberships.
    pub(crate) groups: Option<BTreeMap<String, String>>,
    /// Where destructive steps save the account first (with a journal).
    pub(crate) before_images: Option<super::undo::Saver>,
}

/// A list of strings to change by adding and removing.
#[derive(Debug, Default)]
struct ListEdit<'c> {
    add: Vec<&'c String>,
    remove: Vec<&'c String>,
}

impl ListEdit<'_> {
    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    fn applied_to(&self, current: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = current
            .iter()
            .filter(|v| !self.remove.contains(v))
            .cloned()
            .collect();
        out.extend(self.add.iter().map(|s| (*s).clone()));
        out
    }

    fn holds_in(&self, current: &BTreeSet<String>) -> bool {
        self.add.iter().all(|a| current.contains(*a))
            && !self.remove.iter().any(|r| current.contains(*r))
    }
}

/// The field edits of a change, gathered from its steps.
#[derive(Debug, Default)]
struct Edits<'c> {
    first_name: Option<Option<&'c str>>,
    last_name: Option<Option<&'c str>>,
    add_aliases: Vec<&'c EmailAddress>,
    remove_aliases: Vec<&'c EmailAddress>,
    user_type: Option<&'c UserType>,
    active: Option<bool>,
    allow: ListEdit<'c>,
    block: ListEdit<'c>,
    groups: ListEdit<'c>,
}

impl Edits<'_> {
    /// True when the account's own object needs a write.
    fn writes_user(&self) -> bool {
        self.first_name.is_some()
            || self.last_name.is_some()
            || !self.add_aliases.is_empty()
            || !self.remove_aliases.is_empty()
            || self.user_type.is_some()
            || self.active.is_some()
            || !self.allow.is_empty()
            || !self.block.is_empty()
    }

    fn needs_lists(&self) -> bool {
        !self.allow.is_empty() || !self.block.is_empty()
    }

    /// The patch, given the account as read when sender lists change (they
    /// are replaced whole, so they are merged here and their current value
    /// becomes a precondition).
    fn patch(&self, current: Option<&Account>) -> UserPatch {
        let mut p = UserPatch::new();
        if let Some(v) = self.first_name {
            p = p.first_name(v);
        }
        if let Some(v) = self.last_name {
            p = p.last_name(v);
        }
        for a in &self.add_aliases {
            p = p.add_alias((*a).clone());
        }
        for a in &self.remove_aliases {
            p = p.remove_alias((*a).clone());
        }
        if let Some(t) = self.user_type {
            p = p.user_type(t.clone());
        }
        if let Some(a) = self.active {
            p = p.active(a);
        }
        if let Some(current) = current {
            if !self.allow.is_empty() {
                p = p
                    .allow_senders(self.allow.applied_to(&current.allow_senders))
                    .expect(
                        Field::AllowSenders,
                        FieldValue::Strings(current.allow_senders.clone()),
                    );
            }
            if !self.block.is_empty() {
                p = p
                    .block_senders(self.block.applied_to(&current.block_senders))
                    .expect(
                        Field::BlockSenders,
                        FieldValue::Strings(current.block_senders.clone()),
                    );
            }
        }
        p
    }

    /// True when `account` already shows every edit of its own object (an
    /// in-doubt change whose PUT did land; memberships are redone, which
    /// is harmless).
    fn hold_in(&self, account: &Account) -> bool {
        let text = |want: Option<Option<&str>>, have: &Option<String>| {
            want.is_none_or(|w| w.and_then(muster_core::non_blank) == *have)
        };
        text(self.first_name, &account.first_name)
            && text(self.last_name, &account.last_name)
            && self.add_aliases.iter().all(|a| account.aliases.contains(a))
            && !self
                .remove_aliases
                .iter()
                .any(|a| account.aliases.contains(a))
            && self.user_type.is_none_or(|t| *t == account.user_type)
            && self.active.is_none_or(|a| a == account.active)
            && self.allow.holds_in(&account.allow_senders)
            && self.block.holds_in(&account.block_senders)
    }

    /// Short names of what a PUT would change, for a dry run.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.first_name.is_some() {
            parts.push("first_name".to_owned());
        }
        if self.last_name.is_some() {
            parts.push("last_name".to_owned());
        }
        if !self.add_aliases.is_empty() {
            parts.push(format!("+{} aliases", self.add_aliases.len()));
        }
        if !self.remove_aliases.is_empty() {
            parts.push(format!("-{} aliases", self.remove_aliases.len()));
        }
        if let Some(t) = self.user_type {
            parts.push(format!("type {t}"));
        }
        if let Some(a) = self.active {
            parts.push(if a { "activate" } else { "deactivate" }.to_owned());
        }
        if !self.allow.is_empty() {
            parts.push("allowed senders".to_owned());
        }
        if !self.block.is_empty() {
            parts.push("blocked senders".to_owned());
        }
        parts.join(", ")
    }
}

/// The four steps of a primary-address change.
#[derive(Debug)]
struct Rename<'c> {
    from: &'c EmailAddress,
    strip: &'c [EmailAddress],
    account: &'c Account,
    keep_old: bool,
}

/// What a change asks of the gateway.
#[derive(Debug, Default)]
pub(crate) struct Work<'c> {
    create: Option<(&'c Account, WelcomeEmail)>,
    /// A create's fields muster does not model (a restore's).
    unowned: Option<&'c Map<String, Value>>,
    rename: Option<Rename<'c>>,
    delete: bool,
    edits: Edits<'c>,
}

impl Work<'_> {
    /// True when the change needs no request (flag, unflag, adopt).
    pub(crate) fn is_state_only(&self) -> bool {
        self.create.is_none()
            && self.rename.is_none()
            && !self.delete
            && !self.edits.writes_user()
            && self.edits.groups.is_empty()
    }

    /// True when the change is a plain create that can go in a bulk request.
    pub(crate) fn is_plain_create(&self) -> bool {
        self.create.is_some()
            && self.unowned.is_none_or(Map::is_empty)
            && self.rename.is_none()
            && !self.delete
            && !self.edits.writes_user()
            && self.edits.groups.is_empty()
    }

    /// True when the change is a delete and nothing else.
    pub(crate) fn is_plain_delete(&self) -> bool {
        self.delete
            && self.create.is_none()
            && self.rename.is_none()
            && !self.edits.writes_user()
            && self.edits.groups.is_empty()
    }

    /// The account and welcome-letter choice of a plain create.
    pub(crate) fn plain_create(&self) -> Option<(&Account, WelcomeEmail)> {
        self.create.filter(|_| self.is_plain_create())
    }

    pub(crate) fn touches_groups(&self) -> bool {
        !self.edits.groups.is_empty()
    }
}

/// Reads a change's steps. A step the gateway client cannot carry out is
/// refused here, before anything is written.
pub(crate) fn classify(change: &AccountChange) -> Result<Work<'_>, String> {
    let mut w = Work::default();
    for step in &change.steps {
        match step {
            Step::Create {
                account,
                welcome_letter,
                unowned_fields,
                ..
            } => {
                let welcome = if *welcome_letter {
                    WelcomeEmail::Send
                } else {
                    WelcomeEmail::DontSend
                };
                w.create = Some((account, welcome));
                w.unowned = Some(unowned_fields);
            }
            Step::SetField { field, after, .. } => match field {
                Field::FirstName => w.edits.first_name = Some(after.as_deref()),
                Field::LastName => w.edits.last_name = Some(after.as_deref()),
                other => return Err(format!("the gateway client cannot write {other}")),
            },
            Step::AddAliases { aliases } => w.edits.add_aliases.extend(aliases),
            Step::RemoveAliases { aliases } => w.edits.remove_aliases.extend(aliases),
            Step::ChangeList { field, add, remove } => {
                let list = match field {
                    Field::AllowSenders => &mut w.edits.allow,
                    Field::BlockSenders => &mut w.edits.block,
                    Field::Groups => &mut w.edits.groups,
                    other => return Err(format!("the gateway client cannot write {other}")),
                };
                list.add.extend(add);
                list.remove.extend(remove);
            }
            Step::SetType { to, .. } => w.edits.user_type = Some(to),
            Step::Activate => w.edits.active = Some(true),
            Step::Deactivate => w.edits.active = Some(false),
            Step::Delete => w.delete = true,
            Step::ChangePrimary {
                from,
                strip_aliases,
                account,
                keep_old_as_alias,
            } => {
                w.rename = Some(Rename {
                    from,
                    strip: strip_aliases,
                    account,
                    keep_old: *keep_old_as_alias,
                });
            }
            Step::Flag | Step::Unflag | Step::Adopt { .. } => {}
            other => return Err(format!("unknown step `{}`", other.name())),
        }
    }
    Ok(w)
}

/// The values the plan expects on the existing account (for a rename, the
/// old one): its own `expect`, field steps' before-values, a type change's
/// `from`. One value per field, the first given.
fn expectations(change: &AccountChange) -> Vec<(Field, FieldValue)> {
    let e = &change.expect;
    let mut out: Vec<(Field, FieldValue)> = Vec::new();
    let mut push = |field: Field, value: FieldValue| {
        if !out.iter().any(|(f, _)| *f == field) {
            out.push((field, value));
        }
    };
    if let Some(t) = &e.user_type {
        push(Field::Kind, FieldValue::Type(t.clone()));
    }
    if let Some(a) = e.active {
        push(Field::Enabled, FieldValue::Flag(a));
    }
    if let Some(aliases) = &e.aliases {
        push(
            Field::Aliases,
            FieldValue::Addresses(aliases.iter().cloned().collect()),
        );
    }
    for step in &change.steps {
        match step {
            Step::SetField { field, before, .. } => {
                push(*field, FieldValue::Text(before.clone()));
            }
            Step::SetType { from, .. } => push(Field::Kind, FieldValue::Type(from.clone())),
            _ => {}
        }
    }
    out
}

/// Checks expected values against an account as read, with the client's
/// own comparison ([`field_value`]); the mismatch reads like the client's
/// [`GatewayError::Stale`].
fn check(account: &Account, expected: &[(Field, FieldValue)]) -> Result<(), String> {
    for (field, value) in expected {
        match field_value(account, *field) {
            Some(found) if &found == value => {}
            Some(found) => {
                return Err(format!(
                    "stale change for {}: expected {field} = {value}, found {found}",
                    account.primary_email
                ));
            }
            None => return Err(format!("{field} cannot be checked on the gateway")),
        }
    }
    Ok(())
}

fn with_expectations(mut patch: UserPatch, expected: &[(Field, FieldValue)]) -> UserPatch {
    for (field, value) in expected {
        patch = patch.expect(*field, value.clone());
    }
    patch
}

/// The user, or `None` when it does not exist.
async fn read(client: &Client, email: &EmailAddress) -> Result<Option<RemoteUser>, GatewayError> {
    match client.users().get(email).await {
        Ok(user) => Ok(Some(user)),
        Err(GatewayError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An update's refusal: stale (nothing written) or failed.
fn refusal(error: GatewayError, what: &str) -> Done {
    match error {
        GatewayError::Stale { .. } => Done::stale(error.to_string()),
        GatewayError::NotFound { .. } => Done::stale("the account no longer exists"),
        e => {
            let in_doubt = e.is_retryable();
            Done::failed(e, what, in_doubt)
        }
    }
}

/// Settles from one listing the plain creates and the deletes an earlier
/// run left in doubt, instead of one read per account: a create whose
/// account exists and a delete whose account is gone are done (returned,
/// to be recorded as applied); a create still missing is no longer in
/// doubt, so it goes out again with the other creates in a bulk POST. No
/// request at all when nothing of the kind is in doubt.
///
/// # Errors
/// The listing's failure: nothing can be settled without it.
pub(crate) async fn settle_from_listing(
    client: &Client,
    changes: &[AccountChange],
    works: &[Result<Work<'_>, String>],
    in_doubt: &mut [bool],
) -> Result<Vec<(usize, Done)>, super::ApplyError> {
    let settleable = |i: usize| {
        in_doubt[i]
            && works[i]
                .as_ref()
                .is_ok_and(|w| w.is_plain_create() || w.is_plain_delete())
    };
    let candidates: Vec<usize> = (0..changes.len()).filter(|&i| settleable(i)).collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let present: BTreeSet<EmailAddress> = client
        .users()
        .list()
        .await
        .map_err(|source| super::ApplyError::Read {
            what: "the users (to settle what an earlier run left in doubt)",
            source,
        })?
        .into_iter()
        .map(|u| u.into_account().primary_email)
        .collect();
    let mut settled = Vec::new();
    for i in candidates {
        let Ok(work) = &works[i] else { continue };
        if let Some((account, _)) = work.plain_create() {
            if present.contains(&account.primary_email) {
                settled.push((i, Done::applied()));
            } else {
                in_doubt[i] = false;
            }
        } else if !present.contains(&changes[i].email) {
            settled.push((i, Done::applied()));
        }
    }
    tracing::info!(
        target: "muster::executor",
        settled = settled.len(),
        "changes left in doubt settled from one listing"
    );
    Ok(settled)
}

/// Carries out one change (not a bulk member).
pub(crate) async fn run(
    ctx: &Ctx<'_>,
    change: &AccountChange,
    work: &Work<'_>,
    in_doubt: bool,
) -> Done {
    if work.is_state_only() {
        return if ctx.listing.is_some() {
            Done::dry_run(Vec::new())
        } else {
            Done::applied()
        };
    }
    let group_ids = match resolve_groups(ctx, &work.edits.groups) {
        Ok(ids) => ids,
        Err(done) => return done,
    };
    if let Some(accounts) = &ctx.listing {
        return dry_run(change, work, in_doubt, accounts, &group_ids);
    }
    let client = ctx.client;
    let email = &change.email;
    let done = if let Some(rename) = &work.rename {
        run_rename(client, change, rename, in_doubt).await
    } else if let Some((account, welcome)) = work.create {
        let unowned = work.unowned.cloned().unwrap_or_default();
        run_create(client, account, welcome, unowned, in_doubt).await
    } else if work.delete {
        run_delete(ctx, change, in_doubt).await
    } else {
        run_update(ctx, change, &work.edits, in_doubt).await
    };
    if !done.outcome.succeeded() {
        return done;
    }
    // A create or rename with further edits: the new account gets them now.
    if (work.create.is_some() || work.rename.is_some())
        && work.edits.writes_user()
        && let Err(e) = client.users().update(email, work.edits.patch(None)).await
    {
        return Done::failed(e, "created, but the further edits failed", true);
    }
    run_groups(client, email, &group_ids).await
}

/// Group names → ids, or the refusal of the whole change (before any write).
fn resolve_groups(ctx: &Ctx<'_>, edit: &ListEdit<'_>) -> Result<Vec<(String, bool)>, Done> {
    if edit.is_empty() {
        return Ok(Vec::new());
    }
    let Some(ids) = &ctx.groups else {
        return Err(Done::refused("the groups were not read"));
    };
    let mut out = Vec::new();
    for (names, add) in [(&edit.add, true), (&edit.remove, false)] {
        for name in names {
            match ids.get(name.as_str()) {
                Some(id) => out.push((id.clone(), add)),
                None => {
                    return Err(Done::refused(format!(
                        "group `{name}` does not exist on the gateway"
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Memberships, after the account's own write: adds (already a member is
/// fine), removes (not a member is fine).
async fn run_groups(client: &Client, email: &EmailAddress, ops: &[(String, bool)]) -> Done {
    for (id, add) in ops {
        let result = if *add {
            client.groups().add_member(id, email).await
        } else {
            match client.groups().remove_member(id, email).await {
                Err(GatewayError::NotFound { .. }) => Ok(()),
                other => other,
            }
        };
        if let Err(e) = result {
            // The account's own write may have landed: the next run reads back.
            return Done::failed(e, "changing group memberships", true);
        }
    }
    Done::applied()
}

/// One read-merge-write of an existing account, its preconditions checked
/// by the client before it writes.
async fn run_update(
    ctx: &Ctx<'_>,
    change: &AccountChange,
    edits: &Edits<'_>,
    in_doubt: bool,
) -> Done {
    let client = ctx.client;
    let email = &change.email;
    // Memberships only: no PUT whose preconditions the client would check,
    // so read and check here; a destructive change is read to save it first.
    let keeps_image = ctx.before_images.is_some() && change.is_destructive();
    let needs_read = in_doubt || edits.needs_lists() || !edits.writes_user() || keeps_image;
    let current = if needs_read {
        match read(client, email).await {
            Ok(Some(user)) => Some(user),
            Ok(None) => return Done::stale("the account no longer exists"),
            Err(e) => return Done::failed(e, "reading the account", false),
        }
    } else {
        None
    };
    if in_doubt && current.as_ref().is_some_and(|u| edits.hold_in(u.account())) {
        // The earlier run's write landed before it could record so.
        return Done::applied();
    }
    if keeps_image
        && let Some(current) = &current
        && let Some(refused) = save_before_image(ctx, change, current)
    {
        return refused;
    }
    if !edits.writes_user() {
        let account = current.as_ref().map(RemoteUser::account);
        return match account.map(|a| check(a, &expectations(change))) {
            Some(Err(reason)) => Done::stale(reason),
            _ => Done::applied(),
        };
    }
    let patch = with_expectations(
        edits.patch(current.as_ref().map(RemoteUser::account)),
        &expectations(change),
    );
    // An account already read (in doubt, or for its sender lists) is not read again.
    let written = match current {
        Some(current) => client.users().update_from(current, patch).await,
        None => client.users().update(email, patch).await,
    };
    match written {
        Ok(_) => Done::applied(),
        Err(e) => refusal(e, ""),
    }
}

/// A create; the POST is its own precondition (a 409 means the account
/// exists already, which the plan did not expect).
async fn run_create(
    client: &Client,
    account: &Account,
    welcome: WelcomeEmail,
    unowned: Map<String, Value>,
    in_doubt: bool,
) -> Done {
    if in_doubt {
        match read(client, &account.primary_email).await {
            Ok(Some(_)) => return Done::applied(),
            Ok(None) => {}
            Err(e) => return Done::failed(e, "reading back an earlier create", false),
        }
    }
    match client
        .users()
        .create(NewUser::new(account.clone(), welcome).with_extra_fields(unowned))
        .await
    {
        Ok(_) => Done::applied(),
        Err(GatewayError::Conflict { .. }) => Done::stale(format!(
            "{} already exists on the gateway",
            account.primary_email
        )),
        Err(e) => {
            let in_doubt = e.is_retryable();
            Done::failed(e, "", in_doubt)
        }
    }
}

/// A delete, after reading the account and checking the plan's expectations.
async fn run_delete(ctx: &Ctx<'_>, change: &AccountChange, in_doubt: bool) -> Done {
    let client = ctx.client;
    let email = &change.email;
    let current = match read(client, email).await {
        Ok(Some(user)) => user,
        // Gone: the earlier run's delete landed, or someone else removed it.
        Ok(None) if in_doubt => return Done::applied(),
        Ok(None) => return Done::stale("the account no longer exists"),
        Err(e) => return Done::failed(e, "reading the account", false),
    };
    if let Err(reason) = check(current.account(), &expectations(change)) {
        return Done::stale(reason);
    }
    if let Some(refused) = save_before_image(ctx, change, &current) {
        return refused;
    }
    match client.users().delete(email).await {
        Ok(()) => Done::applied(),
        Err(GatewayError::NotFound { .. }) => Done::stale("the account no longer exists"),
        Err(e) => {
            let in_doubt = e.is_retryable();
            Done::failed(e, "", in_doubt)
        }
    }
}

use super::undo::RECORD_KEYS;

/// Saves the account's before-image ahead of a destructive step; the
/// refusal of the change (nothing written) when it cannot be saved, since
/// a destructive step without its undo is not what the operator was promised.
fn save_before_image(ctx: &Ctx<'_>, change: &AccountChange, current: &RemoteUser) -> Option<Done> {
    let saver = ctx.before_images.as_ref()?;
    let error = saver.save(change.id, current).err()?;
    Some(Done::refused(format!(
        "its before-image could not be saved in {} ({error}): nothing written",
        saver.folder.display()
    )))
}

/// A primary-address change in its four steps: strip the old account's
/// aliases, create the new account (unowned fields copied, no welcome
/// letter), delete the old one, add the old primary back as an alias.
///
/// Resumable: an in-doubt rename continues from what the gateway shows (the
/// new account exists → the old one is deleted; the old one is gone → only
/// the alias is left). If the create fails, the stripped aliases are put
/// back so mail to them keeps flowing.
async fn run_rename(
    client: &Client,
    change: &AccountChange,
    r: &Rename<'_>,
    in_doubt: bool,
) -> Done {
    let new_email = &r.account.primary_email;
    let old = match read(client, r.from).await {
        Ok(u) => u,
        Err(e) => return Done::failed(e, "reading the old account", false),
    };
    let new = match read(client, new_email).await {
        Ok(u) => u,
        Err(e) => return Done::failed(e, "reading the new account", false),
    };
    let expected = expectations(change);
    let old_billable = old.as_ref().and_then(|u| u.account().billable);
    match (old, new) {
        (Some(old), None) => {
            // Part of an in-doubt rename may have stripped aliases already.
            let expected: Vec<(Field, FieldValue)> = expected
                .into_iter()
                .filter(|(f, _)| !(in_doubt && *f == Field::Aliases))
                .collect();
            if let Err(reason) = check(old.account(), &expected) {
                return Done::stale(reason);
            }
            let stripped: Vec<&EmailAddress> = r
                .strip
                .iter()
                .filter(|a| old.account().aliases.contains(a))
                .collect();
            if !stripped.is_empty() {
                let patch = stripped
                    .iter()
                    .fold(UserPatch::new(), |p, a| p.remove_alias((*a).clone()));
                if let Err(e) = client
                    .users()
                    .update(r.from, with_expectations(patch, &expected))
                    .await
                {
                    return refusal(e, "stripping the old account's aliases");
                }
            }
            let mut account = r.account.clone();
            account.aliases.remove(r.from);
            // Sent later if needed: a second non-billable account may be refused while the old one exists.
            account.billable = None;
            let extra: Map<String, Value> = old
                .raw()
                .iter()
                .filter(|(k, _)| !RECORD_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let new_user = NewUser::new(account, WelcomeEmail::DontSend).with_extra_fields(extra);
            if let Err(e) = client.users().create(new_user).await {
                let restored = restore_aliases(client, r.from, &stripped).await;
                return match e {
                    GatewayError::Conflict { .. } => Done::stale(format!(
                        "{new_email} already exists on the gateway; {restored}"
                    )),
                    e => {
                        let in_doubt = e.is_retryable();
                        Done::failed(e, &format!("creating {new_email} ({restored})"), in_doubt)
                    }
                };
            }
            finish_rename(client, r, true, old_billable).await
        }
        (Some(_), Some(_)) if in_doubt => finish_rename(client, r, true, old_billable).await,
        (None, Some(_)) if in_doubt => finish_rename(client, r, false, old_billable).await,
        (Some(_), Some(_)) => Done::stale(format!("{new_email} already exists on the gateway")),
        (None, _) => Done::stale(format!("{} no longer exists", r.from)),
    }
}

/// Puts stripped aliases back on the old account after a failed create.
async fn restore_aliases(
    client: &Client,
    from: &EmailAddress,
    stripped: &[&EmailAddress],
) -> String {
    if stripped.is_empty() {
        return "the old account is unchanged".into();
    }
    let patch = stripped
        .iter()
        .fold(UserPatch::new(), |p, a| p.add_alias((*a).clone()));
    match client.users().update(from, patch).await {
        Ok(_) => "the old account's aliases were put back".into(),
        Err(e) => format!(
            "the old account's aliases could NOT be put back: {}",
            error_chain(&e)
        ),
    }
}

/// Steps three and four of a rename: delete the old account (when it still
/// exists), add the old primary to the new one as an alias.
async fn finish_rename(
    client: &Client,
    r: &Rename<'_>,
    delete_old: bool,
    old_billable: Option<bool>,
) -> Done {
    let new_email = &r.account.primary_email;
    if delete_old {
        match client.users().delete(r.from).await {
            Ok(()) | Err(GatewayError::NotFound { .. }) => {}
            Err(e) => {
                return Done::failed(
                    e,
                    &format!("{new_email} was created but {} was not deleted", r.from),
                    true,
                );
            }
        }
    }
    let mut patch = UserPatch::new();
    if r.keep_old {
        patch = patch.add_alias(r.from.clone());
    }
    if old_billable == Some(false) {
        patch = patch.billable(false);
    }
    if !patch.is_empty()
        && let Err(e) = client.users().update(new_email, patch).await
    {
        return Done::failed(e, &format!("adding {} to {new_email}", r.from), true);
    }
    Done::applied()
}

/// Several plain creates in one request where the dialect allows.
/// Members in doubt are read back first; a member the gateway neither
/// created nor refused is read back too.
pub(crate) async fn run_bulk(
    client: &Client,
    members: &[(&AccountChange, &Account, WelcomeEmail, bool)],
) -> Vec<Done> {
    let mut results: Vec<Option<Done>> = members.iter().map(|_| None).collect();
    for (i, (_, account, _, in_doubt)) in members.iter().enumerate() {
        if *in_doubt {
            match read(client, &account.primary_email).await {
                Ok(Some(_)) => results[i] = Some(Done::applied()),
                Ok(None) => {}
                Err(e) => {
                    results[i] = Some(Done::failed(e, "reading back an earlier create", false))
                }
            }
        }
    }
    let todo: Vec<usize> = (0..members.len())
        .filter(|i| results[*i].is_none())
        .collect();
    let users: Vec<NewUser> = todo
        .iter()
        .map(|&i| NewUser::new(members[i].1.clone(), members[i].2))
        .collect();
    match client.users().create_many(users).await {
        Ok(report) => {
            let created: BTreeSet<&EmailAddress> = report
                .created
                .iter()
                .map(|u| &u.account().primary_email)
                .collect();
            let mut failed: BTreeMap<String, GatewayError> = report
                .failed
                .into_iter()
                .map(|f| (f.identifier.to_ascii_lowercase(), f.error))
                .collect();
            for &i in &todo {
                let account = members[i].1;
                let email = &account.primary_email;
                let failure = failed
                    .remove(&email.as_str().to_ascii_lowercase())
                    .or_else(|| failed.remove(email.normalized()));
                results[i] = Some(if created.contains(email) {
                    Done::applied()
                } else if let Some(e) = failure {
                    match e {
                        GatewayError::Conflict { .. } => {
                            Done::stale(format!("{email} already exists on the gateway"))
                        }
                        e => Done::failed(e, "", false),
                    }
                } else {
                    match read(client, email).await {
                        Ok(Some(_)) => Done::applied(),
                        Ok(None) => Done::refused(format!(
                            "the gateway neither created nor refused {email}"
                        )),
                        Err(e) => Done::failed(e, "reading back a bulk create", true),
                    }
                });
            }
        }
        // Every item was refused: ask one by one for each one's reason.
        Err(e) if todo.len() > 1 && is_item_error(&e) => {
            for &i in &todo {
                let (_, account, welcome, _) = members[i];
                results[i] = Some(run_create(client, account, welcome, Map::new(), false).await);
            }
        }
        Err(GatewayError::Conflict { .. }) if todo.len() == 1 => {
            let email = &members[todo[0]].1.primary_email;
            results[todo[0]] = Some(Done::stale(format!(
                "{email} already exists on the gateway"
            )));
        }
        Err(e) => {
            let text = error_chain(&e);
            let retryable = e.is_retryable();
            for &i in &todo {
                results[i] = Some(Done {
                    outcome: Outcome::Failed {
                        error: text.clone(),
                        retryable,
                    },
                    in_doubt: retryable,
                    error: None,
                });
            }
            if let Some(&first) = todo.first()
                && let Some(done) = results[first].as_mut()
            {
                done.error = Some(Box::new(e));
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Done::refused("not attempted")))
        .collect()
}

/// Errors that concern the items of a request, not the request itself.
fn is_item_error(e: &GatewayError) -> bool {
    matches!(
        e,
        GatewayError::Conflict { .. }
            | GatewayError::DomainNotRegistered { .. }
            | GatewayError::Api {
                status: 400 | 422,
                ..
            }
    )
}

/// A dry run: the plan's preconditions checked against the listing read
/// at the start, and the requests that would be sent.
fn dry_run(
    change: &AccountChange,
    work: &Work<'_>,
    in_doubt: bool,
    accounts: &BTreeMap<EmailAddress, Account>,
    groups: &[(String, bool)],
) -> Done {
    let email = &change.email;
    let mut requests = Vec::new();
    let settled = in_doubt
        .then(|| settled_requests(email, work, accounts))
        .flatten();
    if let Some(rest) = &settled {
        requests.clone_from(rest);
    } else if let Some(r) = &work.rename {
        let Some(old) = accounts.get(r.from) else {
            return Done::stale(format!("{} no longer exists", r.from));
        };
        if accounts.contains_key(&r.account.primary_email) {
            return Done::stale(format!(
                "{} already exists on the gateway",
                r.account.primary_email
            ));
        }
        if let Err(reason) = check(old, &expectations(change)) {
            return Done::stale(reason);
        }
        if !r.strip.is_empty() {
            requests.push(format!("PUT users/{} (-{} aliases)", r.from, r.strip.len()));
        }
        requests.push(format!(
            "POST users (create {}, no welcome letter)",
            r.account.primary_email
        ));
        requests.push(format!("DELETE users/{}", r.from));
        if r.keep_old {
            requests.push(format!(
                "PUT users/{} (+alias {})",
                r.account.primary_email, r.from
            ));
        }
    } else if let Some((account, welcome)) = work.create {
        if accounts.contains_key(&account.primary_email) {
            return Done::stale(format!(
                "{} already exists on the gateway",
                account.primary_email
            ));
        }
        let letter = match welcome {
            WelcomeEmail::Send => "welcome letter",
            _ => "no welcome letter",
        };
        let bulk = change.steps.iter().find_map(|s| match s {
            Step::Create {
                bulk_group: Some(g),
                ..
            } => Some(format!(", bulk group {g}")),
            _ => None,
        });
        requests.push(format!(
            "POST users (create {}, {letter}{})",
            account.primary_email,
            bulk.unwrap_or_default()
        ));
    } else {
        let Some(current) = accounts.get(email) else {
            return Done::stale("the account no longer exists");
        };
        if let Err(reason) = check(current, &expectations(change)) {
            return Done::stale(reason);
        }
        if work.delete {
            requests.push(format!("DELETE users/{email}"));
        }
    }
    if settled.is_none() && !work.delete && work.edits.writes_user() {
        requests.push(format!("PUT users/{email} ({})", work.edits.describe()));
    }
    for (id, add) in groups {
        requests.push(if *add {
            format!("POST groups/{id}/members ({email})")
        } else {
            format!("DELETE groups/{id}/members/{email}")
        });
    }
    Done::dry_run(requests)
}

/// What is left of a change an earlier run left in doubt, when the listing
/// shows its writes landed (all of them, or a rename's first two steps);
/// `None` when it has to be carried out as planned.
fn settled_requests(
    email: &EmailAddress,
    work: &Work<'_>,
    accounts: &BTreeMap<EmailAddress, Account>,
) -> Option<Vec<String>> {
    if let Some(r) = &work.rename {
        let new = accounts.get(&r.account.primary_email)?;
        let mut rest = Vec::new();
        if accounts.contains_key(r.from) {
            rest.push(format!("DELETE users/{}", r.from));
        }
        if r.keep_old && !new.aliases.contains(r.from) {
            rest.push(format!(
                "PUT users/{} (+alias {})",
                new.primary_email, r.from
            ));
        }
        return Some(rest);
    }
    if let Some((account, _)) = work.create {
        return accounts.contains_key(&account.primary_email).then(Vec::new);
    }
    if work.delete {
        return (!accounts.contains_key(email)).then(Vec::new);
    }
    let current = accounts.get(email)?;
    work.edits.hold_in(current).then(Vec::new)
}
