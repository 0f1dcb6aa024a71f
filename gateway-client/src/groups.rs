//! `client.groups()`: groups and their members (v2 only; Essentials v1 has
//! no groups API — distribution lists there are functional accounts).

use muster_core::EmailAddress;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::transport::Request;
use crate::{Client, Error};

/// A group as the gateway lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Group {
    /// The gateway's id (`grp_001`).
    pub id: String,
    /// The display name.
    pub name: String,
    /// The member count the gateway announced, if any.
    pub member_count: Option<u64>,
    /// The whole object as returned.
    pub raw: Map<String, Value>,
}

/// The groups of the organisation. Obtain with [`Client::groups`].
#[derive(Debug, Clone, Copy)]
pub struct Groups<'c> {
    client: &'c Client,
}

impl Client {
    /// Groups and memberships. Every call fails with [`Error::Unsupported`]
    /// on a dialect without groups ([`Capabilities::groups`](crate::Capabilities)).
    #[must_use]
    pub fn groups(&self) -> Groups<'_> {
        Groups { client: self }
    }
}

impl Groups<'_> {
    fn supported(&self, operation: &'static str) -> Result<(), Error> {
        if self.client.capabilities().groups {
            Ok(())
        } else {
            Err(Error::Unsupported {
                operation,
                dialect: self.client.dialect(),
            })
        }
    }

    /// Every group (paged).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on Essentials v1.
    pub async fn list(&self) -> Result<Vec<Group>, Error> {
        self.supported("listing groups")?;
        let objects = self.client.collect_pages(vec!["groups"], "groups").await?;
        objects.into_iter().map(group_of).collect()
    }

    /// The members of a group.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on Essentials v1, [`Error::NotFound`] for an unknown group.
    pub async fn members(&self, group_id: &str) -> Result<Vec<EmailAddress>, Error> {
        self.supported("listing group members")?;
        let objects = self
            .client
            .collect_pages(vec!["groups", group_id, "members"], "members")
            .await?;
        objects
            .iter()
            .map(|o| {
                crate::wire::primary(o, "primaryEmail").map_err(|reason| Error::Decode {
                    method: "GET".into(),
                    path: format!("groups/{group_id}/members"),
                    reason,
                    body_excerpt: muster_core::excerpt(&Value::Object(o.clone()).to_string()),
                })
            })
            .collect()
    }

    /// Adds a user to a group. Already a member (409) counts as success,
    /// which also makes a repeated add after a lost answer harmless.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on Essentials v1.
    pub async fn add_member(&self, group_id: &str, email: &EmailAddress) -> Result<(), Error> {
        self.supported("adding a group member")?;
        let mut req = Request::new(Method::POST, vec!["groups", group_id, "members"])
            .body(serde_json::json!({ "primaryEmail": email.as_str() }));
        req.idempotency = crate::transport::Idempotency::Idempotent;
        match self.client.inner.execute(req).await {
            Ok(_) | Err(Error::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes a user from a group (a 404 after an ambiguous first attempt is success).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on Essentials v1, [`Error::NotFound`] when not a member.
    pub async fn remove_member(&self, group_id: &str, email: &EmailAddress) -> Result<(), Error> {
        self.supported("removing a group member")?;
        self.client
            .delete_settled(vec!["groups", group_id, "members", email.as_str()])
            .await
    }
}

fn group_of(obj: Map<String, Value>) -> Result<Group, Error> {
    let text = |key: &str| match obj.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let id = text("id").ok_or_else(|| Error::Decode {
        method: "GET".into(),
        path: "groups".into(),
        reason: "a group without `id`".into(),
        body_excerpt: muster_core::excerpt(&Value::Object(obj.clone()).to_string()),
    })?;
    Ok(Group {
        name: text("name").unwrap_or_else(|| id.clone()),
        member_count: obj.get("memberCount").and_then(Value::as_u64),
        id,
        raw: obj,
    })
}
