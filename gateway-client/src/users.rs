//! `client.users()`: list, get, create, create_many, update, delete.

use std::collections::BTreeMap;

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use muster_core::{Account, EmailAddress};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::model::{NewUser, RemoteUser, UserPatch};
use crate::transport::{Reply, Request, message_of, status_error};
use crate::{Client, Dialect, Error, wire};

/// The users of the organisation. Obtain with [`Client::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'c> {
    client: &'c Client,
}

/// One record of a user listing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Listed {
    /// A user (boxed: a user is large, an alias record small).
    User(Box<RemoteUser>),
    /// An address of another user, listed as its own record (v2 `type: Alias`).
    Alias {
        /// The alias address.
        address: EmailAddress,
        /// The primary address of the user it belongs to.
        user: EmailAddress,
    },
}

/// What a bulk create did, item by item.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BulkCreateReport {
    /// The users that now exist, as the gateway returned them.
    pub created: Vec<RemoteUser>,
    /// The users that were refused, with why.
    pub failed: Vec<BulkFailure>,
}

/// One refused item of a bulk create.
#[derive(Debug)]
#[non_exhaustive]
pub struct BulkFailure {
    /// The address the gateway named (`identifier`).
    pub identifier: String,
    /// The refusal, classified like any other error.
    pub error: Error,
}

impl Client {
    /// The users of the organisation.
    #[must_use]
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }

    /// The path segments of the user collection.
    pub(crate) fn users_path(&self) -> Vec<&str> {
        match (&self.inner.dialect, &self.inner.org) {
            (Dialect::RestV2, _) => vec!["users"],
            (_, Some(org)) => vec!["orgs", org.as_ascii(), "users"],
            (_, None) => vec!["users"],
        }
    }
}

impl Users<'_> {
    /// Every user of the organisation. v1 returns them in one response; v2
    /// is read page by page (a listing that ends before the announced
    /// `total` is [`Error::Truncated`], never a shorter list), and its
    /// `type: Alias` records are folded into their users' aliases.
    ///
    /// # Errors
    /// [`Error::DomainNotRegistered`] when the organisation is unknown to the
    /// gateway (404), [`Error::Decode`] naming the record and field when a
    /// user does not parse, and the usual request errors.
    pub async fn list(&self) -> Result<Vec<RemoteUser>, Error> {
        let mut users = Vec::new();
        let mut aliases = Vec::new();
        let mut records = self.stream();
        while let Some(record) = records.try_next().await? {
            match record {
                Listed::User(user) => users.push(*user),
                Listed::Alias { address, user } => aliases.push((address, user)),
            }
        }
        wire::v2::fold_aliases(&mut users, aliases)
            .map_err(|reason| self.list_decode_error(reason, String::new()))?;
        Ok(users)
    }

    /// The listing record by record, page by page on v2, without holding
    /// everyone in memory. Alias records are yielded as they come
    /// ([`Listed::Alias`]); [`list`](Self::list) folds them into their users.
    ///
    /// # Errors
    /// As [`list`](Self::list), per item.
    pub fn stream(&self) -> BoxStream<'_, Result<Listed, Error>> {
        let pages = match self.client.dialect() {
            Dialect::RestV2 => self.client.pages(self.client.users_path(), "users").boxed(),
            _ => stream::once(self.v1_objects()).boxed(),
        };
        pages
            .map_ok(|objects| stream::iter(objects.into_iter().map(|o| self.listed(o))))
            .try_flatten()
            .boxed()
    }

    /// Every user's account, without the objects they were read from: what
    /// planning needs (an update reads its user again before writing). On
    /// v1 the listing is decoded straight from the response text, with no
    /// JSON tree per record, which at 10,000 users takes a fraction of the
    /// time [`list`](Self::list) does.
    ///
    /// # Errors
    /// As [`list`](Self::list), with the same error for the same listing.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, Error> {
        if self.client.dialect() == Dialect::RestV2 {
            let users = self.list().await?;
            return Ok(users.into_iter().map(RemoteUser::into_account).collect());
        }
        let reply = self.v1_reply().await?;
        match wire::v1::decode_listing(&reply.body) {
            Ok(accounts) => Ok(accounts),
            // Read again the slow way, which names the record and quotes it;
            // the fast reading's reason only if that finds nothing wrong.
            Err(reason) => {
                for object in v1_objects_of(&reply)? {
                    self.listed(object)?;
                }
                Err(reply.decode_error(reason))
            }
        }
    }

    /// The v1 listing: everyone in one response.
    async fn v1_objects(&self) -> Result<Vec<Map<String, Value>>, Error> {
        let reply = self.v1_reply().await?;
        v1_objects_of(&reply)
    }

    /// The v1 listing's response.
    async fn v1_reply(&self) -> Result<Reply, Error> {
        self.client
            .inner
            .execute(Request::new(Method::GET, self.client.users_path()))
            .await
            .map_err(|e| self.org_missing(e))
    }

    /// One user by primary address.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such user.
    pub async fn get(&self, email: &EmailAddress) -> Result<RemoteUser, Error> {
        let mut segments = self.client.users_path();
        segments.push(email.as_str());
        let reply = self
            .client
            .inner
            .execute(Request::new(Method::GET, segments))
            .await?;
        match reply.json()? {
            Value::Object(obj) => wire::decode_user(self.client.dialect(), obj)
                .map_err(|reason| reply.decode_error(reason)),
            _ => Err(reply.decode_error("expected a user object".into())),
        }
    }

    /// Creates one user.
    ///
    /// A POST is not repeated blindly: after a timeout, a dropped connection
    /// or a 5xx, the user is read back; if absent it is posted once more, and
    /// a 409 on that second POST is success once a read confirms the user.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the address is taken,
    /// [`Error::DomainNotRegistered`] naming the refused domain.
    pub async fn create(&self, new: NewUser) -> Result<RemoteUser, Error> {
        let dialect = self.client.dialect();
        let body = wire::encode_new(dialect, &new)?;
        let email = &new.account().primary_email;
        let post = || async {
            let reply = self.post(Value::Object(body.clone())).await?;
            self.created_one(&reply, body.clone())
        };
        match post().await {
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(%email, error = %e, "create outcome unknown; reading back");
                match self.get(email).await {
                    Ok(user) => return Ok(user),
                    Err(Error::NotFound { .. }) => {}
                    Err(other) => return Err(other),
                }
                match post().await {
                    Err(conflict @ Error::Conflict { .. }) => {
                        self.get(email).await.map_err(|_| conflict)
                    }
                    second => second,
                }
            }
            first => first,
        }
    }

    /// Creates several users: in one POST where the dialect can
    /// ([`Capabilities::bulk_create`](crate::Capabilities)), otherwise one
    /// by one. Refused items are reported, not fatal.
    ///
    /// An ambiguous failure of the bulk POST is settled like [`create`](Self::create):
    /// the list is read back and only the absent users are posted again.
    ///
    /// # Errors
    /// Only errors that concern the whole request (auth, transport after
    /// retries…); per-item refusals are in [`BulkCreateReport::failed`].
    pub async fn create_many(&self, users: Vec<NewUser>) -> Result<BulkCreateReport, Error> {
        let dialect = self.client.dialect();
        if !dialect.capabilities().bulk_create {
            let mut report = BulkCreateReport::default();
            for new in users {
                let identifier = new.account().primary_email.to_string();
                match self.create(new).await {
                    Ok(user) => report.created.push(user),
                    Err(error) if is_item_error(&error) => {
                        report.failed.push(BulkFailure { identifier, error });
                    }
                    Err(fatal) => return Err(fatal),
                }
            }
            return Ok(report);
        }
        let bodies = users
            .iter()
            .map(|u| wire::encode_new(dialect, u))
            .collect::<Result<Vec<_>, _>>()?;
        match self.post(array(&bodies)).await {
            Ok(reply) => self.bulk_report(&reply),
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(error = %e, "bulk create outcome unknown; reading back");
                self.settle_bulk(users, bodies).await
            }
            Err(e) => Err(e),
        }
    }

    /// Changes only what `patch` assigns: reads the user, checks the
    /// patch's expected before-values, applies the assignments to the
    /// object as read and PUTs the whole object back — every other field,
    /// known or unknown, exactly as it was; no `password` unless the patch
    /// sets one. A patch that changes nothing writes nothing.
    ///
    /// ```
    /// # use muster_emulator::{Emulator, Login, Org};
    /// use muster_core::Field;
    /// use muster_gateway::{Client, Error, FieldValue, UserPatch};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emu = Emulator::builder()
    /// #     .org(Org::new("example.com").user(serde_json::json!({
    /// #         "primary_email": "ann@example.com", "surname": "Lee",
    /// #         "white_list_senders": ["*@partner.example"]})))
    /// #     .login(Login::org_admin("admin@example.com", "pw", "example.com"))
    /// #     .start().await?;
    /// let client = Client::builder()
    ///     .essentials(emu.base_url(), "example.com")
    ///     .credentials("admin@example.com", "pw".into())
    ///     .build()?;
    /// let ann = "ann@example.com".parse()?;
    ///
    /// let patch = UserPatch::new()
    ///     .last_name(Some("Lee-Smith"))
    ///     .expect(Field::LastName, FieldValue::Text(Some("Lee".into())));
    /// let updated = client.users().update(&ann, patch).await?;
    /// // The sender list nobody mentioned is still there.
    /// assert!(updated.account().allow_senders.contains("*@partner.example"));
    ///
    /// // The same change again is stale: the last name is no longer "Lee".
    /// let again = UserPatch::new()
    ///     .last_name(Some("Smith"))
    ///     .expect(Field::LastName, FieldValue::Text(Some("Lee".into())));
    /// let err = client.users().update(&ann, again).await.unwrap_err();
    /// assert!(matches!(err, Error::Stale { .. }));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Stale`] (nothing written) when the user no longer has the
    /// expected values; [`Error::NotFound`]; [`Error::Unsupported`] when the
    /// dialect has no such field.
    pub async fn update(
        &self,
        email: &EmailAddress,
        patch: UserPatch,
    ) -> Result<RemoteUser, Error> {
        let current = self.get(email).await?;
        self.update_from(current, patch).await
    }

    /// [`update`](Self::update) of a user the caller has just read: the
    /// same checks, merge and PUT, without reading it again.
    ///
    /// A PUT whose outcome is unknown (timeout, dropped connection, 5xx
    /// after every retry) is settled by one GET: when the user now holds
    /// exactly what was sent, the update is done.
    ///
    /// # Errors
    /// As [`update`](Self::update).
    pub async fn update_from(
        &self,
        current: RemoteUser,
        patch: UserPatch,
    ) -> Result<RemoteUser, Error> {
        let dialect = self.client.dialect();
        patch.check(current.account(), dialect)?;
        let mut obj = current.raw().clone();
        wire::apply(dialect, &mut obj, &patch.resolve(current.account()))?;
        if &obj == current.raw() {
            return Ok(current);
        }
        let email = &current.account().primary_email;
        let mut segments = self.client.users_path();
        segments.push(email.as_str());
        let req = Request::new(Method::PUT, segments).body(Value::Object(obj.clone()));
        let reply = match self.client.inner.execute(req).await {
            Ok(reply) => reply,
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(%email, error = %e, "update outcome unknown; reading back");
                return match (wire::decode_user(dialect, obj), self.get(email).await) {
                    (Ok(sent), Ok(now)) if now.account() == sent.account() => Ok(now),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        wire::decode_user(dialect, obj).map_err(|reason| reply.decode_error(reason))
    }

    /// Deletes a user. If the first attempt's outcome is unknown (timeout,
    /// dropped connection, 5xx), the delete is sent again and a 404 then
    /// means the first one worked.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the user did not exist in the first place.
    pub async fn delete(&self, email: &EmailAddress) -> Result<(), Error> {
        let mut segments = self.client.users_path();
        segments.push(email.as_str());
        self.client.delete_settled(segments).await
    }

    async fn post(&self, body: Value) -> Result<Reply, Error> {
        let req = Request::new(Method::POST, self.client.users_path())
            .body(body)
            .with_item_errors();
        self.client.inner.execute(req).await
    }

    /// The user a single-object POST created.
    fn created_one(&self, reply: &Reply, sent: Map<String, Value>) -> Result<RemoteUser, Error> {
        let mut report = self.bulk_report(reply)?;
        if let Some(failure) = report.failed.pop() {
            return Err(failure.error);
        }
        match report.created.pop() {
            Some(user) => Ok(user),
            // An empty 201: what we sent is what exists.
            None => wire::decode_user(self.client.dialect(), sent)
                .map_err(|reason| reply.decode_error(reason)),
        }
    }

    /// Reads `{users, errors}`, a bare user object, or an empty body.
    fn bulk_report(&self, reply: &Reply) -> Result<BulkCreateReport, Error> {
        let dialect = self.client.dialect();
        let mut report = BulkCreateReport::default();
        let body = reply.json()?;
        let Value::Object(mut obj) = body else {
            return match body {
                Value::Null => Ok(report),
                _ => Err(reply.decode_error("expected an object".into())),
            };
        };
        if !obj.contains_key("users") && !obj.contains_key("errors") {
            report.created.push(
                wire::decode_user(dialect, obj).map_err(|reason| reply.decode_error(reason))?,
            );
            return Ok(report);
        }
        if let Some(Value::Array(users)) = obj.remove("users") {
            for o in objects_of(users).map_err(|r| reply.decode_error(r))? {
                report.created.push(
                    wire::decode_user(dialect, o).map_err(|reason| reply.decode_error(reason))?,
                );
            }
        }
        if let Some(Value::Array(errors)) = obj.remove("errors") {
            for e in &errors {
                report.failed.push(item_failure(reply, e));
            }
        }
        Ok(report)
    }

    /// After an ambiguous bulk POST: keep what exists, post the rest once more.
    async fn settle_bulk(
        &self,
        users: Vec<NewUser>,
        bodies: Vec<Map<String, Value>>,
    ) -> Result<BulkCreateReport, Error> {
        let mut existing: BTreeMap<EmailAddress, RemoteUser> = self
            .list()
            .await?
            .into_iter()
            .map(|u| (u.account().primary_email.clone(), u))
            .collect();
        let mut report = BulkCreateReport::default();
        let mut again = Vec::new();
        for (new, body) in users.iter().zip(bodies) {
            match existing.remove(&new.account().primary_email) {
                Some(user) => report.created.push(user),
                None => again.push(body),
            }
        }
        if again.is_empty() {
            return Ok(report);
        }
        let second = self.bulk_report(&self.post(array(&again)).await?)?;
        report.created.extend(second.created);
        for failure in second.failed {
            let confirmed = match (&failure.error, failure.identifier.parse::<EmailAddress>()) {
                (Error::Conflict { .. }, Ok(email)) => self.get(&email).await.ok(),
                _ => None,
            };
            match confirmed {
                Some(user) => report.created.push(user),
                None => report.failed.push(failure),
            }
        }
        Ok(report)
    }

    fn org_missing(&self, e: Error) -> Error {
        match (e, &self.client.inner.org) {
            (Error::NotFound { .. }, Some(org)) => Error::DomainNotRegistered {
                domain: org.as_ascii().to_owned(),
            },
            (e, _) => e,
        }
    }

    /// A listing that does not decode, with the listing's URL path.
    fn list_decode_error(&self, reason: String, body_excerpt: String) -> Error {
        let url = crate::path::join(&self.client.inner.base, &self.client.users_path());
        Error::Decode {
            method: "GET".into(),
            path: url.path().to_owned(),
            reason,
            body_excerpt,
        }
    }

    /// Decodes one listed record, naming it in the error. The record is
    /// moved into the user it becomes; its name and excerpt are written
    /// only when it does not decode (a listing of thousands decodes
    /// thousands of records and fails on none, usually).
    fn listed(&self, obj: Map<String, Value>) -> Result<Listed, Error> {
        let dialect = self.client.dialect();
        let reason = if dialect == Dialect::RestV2 && wire::v2::is_alias_record(&obj) {
            match wire::v2::decode_alias(&obj) {
                Ok((address, user)) => return Ok(Listed::Alias { address, user }),
                Err(reason) => reason,
            }
        } else {
            match wire::decode_account(dialect, &obj) {
                Ok(account) => return Ok(Listed::User(Box::new(RemoteUser::new(account, obj)))),
                Err(reason) => reason,
            }
        };
        let name = obj
            .get("primary_email")
            .or_else(|| obj.get("primaryEmail"))
            .map(ToString::to_string)
            .unwrap_or_else(|| "(no primary address)".into());
        let excerpt = muster_core::excerpt(&Value::Object(obj).to_string());
        Err(self.list_decode_error(format!("record {name}: {reason}"), excerpt))
    }
}

/// The user objects of a v1 listing's response.
fn v1_objects_of(reply: &Reply) -> Result<Vec<Map<String, Value>>, Error> {
    let mut body = reply.json()?;
    let items = take_list(&mut body, "users")
        .ok_or_else(|| reply.decode_error("no `users` list".into()))?;
    objects_of(items).map_err(|r| reply.decode_error(r))
}

/// The objects of a JSON list, or why not; taken by value, so no record is
/// copied on its way to the user it becomes.
pub(crate) fn objects_of(items: Vec<Value>) -> Result<Vec<Map<String, Value>>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => Ok(o),
            other => Err(format!("item {i} is not an object: {other}")),
        })
        .collect()
}

/// Takes the list under `key` out of a reply's JSON object (the rest stays).
pub(crate) fn take_list(body: &mut Value, key: &str) -> Option<Vec<Value>> {
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    }
}

fn array(bodies: &[Map<String, Value>]) -> Value {
    Value::Array(bodies.iter().cloned().map(Value::Object).collect())
}

/// One `{status, error_message, identifier}` entry, classified.
fn item_failure(reply: &Reply, entry: &Value) -> BulkFailure {
    let identifier = entry
        .get("identifier")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let status = entry
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(400);
    let message = message_of(&entry.to_string());
    let named = serde_json::json!({ "primary_email": identifier });
    let error = status_error(
        status,
        message,
        reply.method.as_str(),
        &reply.path,
        Some(&named),
        1,
    );
    BulkFailure { identifier, error }
}

/// Errors that concern one item, not the whole run.
fn is_item_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Conflict { .. }
            | Error::DomainNotRegistered { .. }
            | Error::Api {
                status: 400..=499,
                ..
            }
    )
}

impl Client {
    /// DELETE that settles an ambiguous first attempt: sent again, and a
    /// 404 then means the first one worked.
    pub(crate) async fn delete_settled(&self, segments: Vec<&str>) -> Result<(), Error> {
        let mut first = Request::new(Method::DELETE, segments.clone());
        first.idempotency = crate::transport::Idempotency::NotIdempotent;
        match self.inner.execute(first).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(error = %e, "delete outcome unknown; sending it again");
                match self
                    .inner
                    .execute(Request::new(Method::DELETE, segments))
                    .await
                {
                    Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                    Err(other) => Err(other),
                }
            }
            Err(e) => Err(e),
        }
    }
}
