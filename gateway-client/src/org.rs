//! The organisation, the login's identity, and stack discovery (v1).

use muster_core::{EmailAddress, UserType};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::transport::{Reply, Request};
use crate::{Client, Dialect, Error};

/// The organisation as the gateway describes it: what the planner needs to
/// know (registered domains, licences).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OrgInfo {
    /// The primary domain.
    pub primary_domain: String,
    /// The display name.
    pub name: Option<String>,
    /// The registered domains (`domains[].name`).
    pub domains: Vec<OrgDomain>,
    /// Licences bought.
    pub user_licenses: Option<u64>,
    /// Active users counted by the gateway.
    pub active_users: Option<u64>,
    /// Whether the organisation sends welcome letters at all
    /// (`send_welcome_email`): a create's own `true` cannot turn them on.
    pub send_welcome_email: Option<bool>,
    /// The whole object as returned.
    pub raw: Map<String, Value>,
}

/// One registered domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgDomain {
    /// The domain name.
    pub name: String,
    /// Whether mail for it is being filtered.
    pub is_active: bool,
}

/// Who the client is logged in as (`/me`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Identity {
    /// The login's address (falls back to the configured user name).
    pub login: String,
    /// The login's account type, when the gateway says.
    pub user_type: Option<UserType>,
    /// A read-only login cannot write: the executor should refuse to apply.
    pub read_only: bool,
    /// The whole object as returned (v1), or empty.
    pub raw: Map<String, Value>,
}

impl Client {
    /// The organisation: registered domains and licence counts.
    ///
    /// # Errors
    /// [`Error::DomainNotRegistered`] when the gateway does not know the
    /// organisation; [`Error::Unsupported`] on v2 (no organisation resource).
    pub async fn org(&self) -> Result<OrgInfo, Error> {
        let org = match (self.dialect(), &self.inner.org) {
            (Dialect::EssentialsV1, Some(org)) => org.clone(),
            _ => {
                return Err(Error::Unsupported {
                    operation: "reading the organisation",
                    dialect: self.dialect(),
                });
            }
        };
        let reply = self
            .inner
            .execute(Request::new(Method::GET, vec!["orgs", org.as_ascii()]))
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::DomainNotRegistered {
                    domain: org.as_ascii().to_owned(),
                },
                other => other,
            })?;
        let obj = object(&reply)?;
        let domains = obj
            .get("domains")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|d| {
                        let name = d.get("name").and_then(Value::as_str)?;
                        Some(OrgDomain {
                            name: name.to_owned(),
                            is_active: d.get("is_active").and_then(Value::as_bool).unwrap_or(true),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(OrgInfo {
            primary_domain: obj
                .get("primary_domain")
                .and_then(Value::as_str)
                .unwrap_or(org.as_ascii())
                .to_owned(),
            name: obj.get("name").and_then(Value::as_str).map(str::to_owned),
            domains,
            user_licenses: obj.get("user_licenses").and_then(Value::as_u64),
            active_users: obj.get("active_users").and_then(Value::as_u64),
            send_welcome_email: obj.get("send_welcome_email").and_then(Value::as_bool),
            raw: obj,
        })
    }

    /// Checks the credentials and says who they belong to: `/me` on v1, a
    /// one-record user listing on v2.
    ///
    /// # Errors
    /// [`Error::Auth`] for wrong credentials.
    pub async fn verify(&self) -> Result<Identity, Error> {
        if self.dialect() == Dialect::RestV2 {
            let req = Request::new(Method::GET, vec!["users"])
                .query("page", "1".into())
                .query("pageSize", "1".into());
            self.inner.execute(req).await?;
            return Ok(Identity {
                login: self.inner.user.clone(),
                user_type: None,
                read_only: false,
                raw: Map::new(),
            });
        }
        let reply = self
            .inner
            .execute(Request::new(Method::GET, vec!["me"]))
            .await?;
        let obj = object(&reply)?;
        let login = ["primary_email", "email", "username"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))
            .and_then(|s| s.parse::<EmailAddress>().ok())
            .map_or_else(|| self.inner.user.clone(), |e| e.to_string());
        Ok(Identity {
            login,
            user_type: obj
                .get("type")
                .and_then(Value::as_str)
                .map(|t| t.parse().unwrap_or_else(|never| match never {})),
            read_only: obj
                .get("read_only_user")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            raw: obj,
        })
    }

    /// The stack endpoints that serve `domain` (`/endpoints/{domain}`; may be
    /// asked of any stack). Returned as the gateway gives them, strings or
    /// objects, because the element shape is undocumented.
    ///
    /// # Errors
    /// [`Error::Unsupported`] on v2.
    pub async fn endpoints(&self, domain: &str) -> Result<Vec<Value>, Error> {
        if self.dialect() != Dialect::EssentialsV1 {
            return Err(Error::Unsupported {
                operation: "stack discovery",
                dialect: self.dialect(),
            });
        }
        let reply = self
            .inner
            .execute(Request::new(Method::GET, vec!["endpoints", domain]))
            .await?;
        let obj = object(&reply)?;
        match obj.get("endpoints") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(reply.decode_error("no `endpoints` list".into())),
        }
    }
}

fn object(reply: &Reply) -> Result<Map<String, Value>, Error> {
    match reply.json()? {
        Value::Object(obj) => Ok(obj),
        _ => Err(reply.decode_error("expected an object".into())),
    }
}
