//! The seed-003 "v2" shape on the same store: `/v2/...`, camelCase, HTTP
//! Basic, page/pageSize paging, groups.

use std::collections::HashMap;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AppState, Session, json_body, path_email};
use crate::clock::lock;
use crate::model::{parse_v2, render_v2};
use crate::reply::ApiError;
use crate::store::OrgState;

type Reply = Result<Response, ApiError>;

/// The largest page v2 serves; larger requests are silently capped, so a
/// client must compare what it got with `total`.
pub(crate) const MAX_PAGE_SIZE: usize = 1000;
const DEFAULT_PAGE_SIZE: usize = 100;

/// A 1-based page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    page: usize,
    size: usize,
}

impl Page {
    fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let number = |name: &str, default: usize| -> Result<usize, ApiError> {
            match q.get(name) {
                None => Ok(default),
                Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "query `{name}`: `{v}` is not a whole number of at least 1"
                    ))
                }),
            }
        };
        Ok(Page {
            page: number("page", 1)?,
            size: number("pageSize", DEFAULT_PAGE_SIZE)?.min(MAX_PAGE_SIZE),
        })
    }

    fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        let skip = (self.page - 1).saturating_mul(self.size);
        items.into_iter().skip(skip).take(self.size).collect()
    }
}

fn with_org<T>(
    shared: &AppState,
    session: &Session,
    f: impl FnOnce(&OrgState) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let store = lock(&shared.store);
    let o = store
        .org(&session.home_org())
        .ok_or_else(|| ApiError::not_found("the login's organisation does not exist"))?;
    f(o)
}

/// `GET /v2/users?page=&pageSize=`: `{users, total, page, pageSize}`.
pub(crate) async fn list_users(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let page = Page::from_query(&q)?;
    let now = shared.clock.now();
    with_org(&shared, &session, |o| {
        let all: Vec<Value> = o
            .visible_users(now)
            .map(|u| render_v2(u, o.groups_of(u.uid)))
            .collect();
        let total = all.len();
        Ok(Json(json!({
            "users": page.slice(all),
            "total": total,
            "page": page.page,
            "pageSize": page.size,
        }))
        .into_response())
    })
}

/// `GET /v2/users/{email}`.
pub(crate) async fn get_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(email): Path<String>,
) -> Reply {
    let email = path_email(&email)?;
    let now = shared.clock.now();
    with_org(&shared, &session, |o| {
        o.visible_user(&email, now)
            .map(|u| Json(render_v2(u, o.groups_of(u.uid))).into_response())
            .ok_or_else(|| {
                ApiError::not_found(format!("user `{email}` not found")).about(email.as_str())
            })
    })
}

/// `POST /v2/users`: one user; 201 with the created user.
pub(crate) async fn create_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Reply {
    let write = parse_v2(json_body(&body)?).map_err(ApiError::bad_request)?;
    let now = shared.clock.now();
    let lag = lock(&shared.faults).lag();
    let org = session.home_org();
    let mut store = lock(&shared.store);
    let user = store.create(&org, write, now, lag, true)?.clone();
    Ok((StatusCode::CREATED, Json(render_v2(&user, Vec::new()))).into_response())
}

/// `PUT /v2/users/{email}`: full replace, like v1.
pub(crate) async fn put_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(email): Path<String>,
    body: Bytes,
) -> Reply {
    let email = path_email(&email)?;
    let write =
        parse_v2(json_body(&body)?).map_err(|m| ApiError::bad_request(m).about(email.as_str()))?;
    lock(&shared.store).replace(&session.home_org(), &email, write)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v2/users/{email}`.
pub(crate) async fn delete_user(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(email): Path<String>,
) -> Reply {
    let email = path_email(&email)?;
    lock(&shared.store).delete(&session.home_org(), &email)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v2/groups`: `{groups: [{id, name, memberCount}], total}`.
pub(crate) async fn list_groups(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let page = Page::from_query(&q)?;
    with_org(&shared, &session, |o| {
        let all: Vec<Value> = o
            .groups
            .iter()
            .map(|g| json!({"id": g.id, "name": g.name, "memberCount": g.members.len()}))
            .collect();
        let total = all.len();
        Ok(Json(json!({"groups": page.slice(all), "total": total})).into_response())
    })
}

/// `POST /v2/groups` with `{"name": ...}`.
pub(crate) async fn create_group(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Reply {
    let body = json_body(&body)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("field `name`: expected a non-empty string"))?;
    let id = lock(&shared.store).create_group(&session.home_org(), name);
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "name": name, "memberCount": 0})),
    )
        .into_response())
}

/// `GET /v2/groups/{id}/members`: `{members: [{primaryEmail}], total}`.
pub(crate) async fn list_members(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let page = Page::from_query(&q)?;
    with_org(&shared, &session, |o| {
        let group = o
            .groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| ApiError::not_found(format!("group `{id}` not found")))?;
        let all: Vec<Value> = o
            .all_users()
            .filter(|u| group.members.contains(&u.uid))
            .map(|u| json!({"primaryEmail": u.primary.as_str()}))
            .collect();
        let total = all.len();
        Ok(Json(json!({"members": page.slice(all), "total": total})).into_response())
    })
}

/// `POST /v2/groups/{id}/members` with `{"primaryEmail": ...}`; the user must exist.
pub(crate) async fn add_member(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_body(&body)?;
    let email = body
        .get("primaryEmail")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("field `primaryEmail`: expected a string"))?
        .to_owned();
    lock(&shared.store).add_member(&session.home_org(), &id, &email)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"groupId": id, "primaryEmail": email})),
    )
        .into_response())
}

/// `DELETE /v2/groups/{id}/members/{email}`.
pub(crate) async fn remove_member(
    State(shared): State<AppState>,
    Extension(session): Extension<Session>,
    Path((id, email)): Path<(String, String)>,
) -> Reply {
    let email = path_email(&email)?;
    lock(&shared.store).remove_member(&session.home_org(), &id, &email)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn page_size_is_capped_and_defaults_apply() {
        assert_eq!(
            Page::from_query(&q(&[])).unwrap(),
            Page { page: 1, size: 100 }
        );
        let p = Page::from_query(&q(&[("pageSize", "5000"), ("page", "2")])).unwrap();
        assert_eq!(
            p,
            Page {
                page: 2,
                size: MAX_PAGE_SIZE
            }
        );
        assert!(Page::from_query(&q(&[("page", "0")])).is_err());
        assert!(Page::from_query(&q(&[("pageSize", "ten")])).is_err());
    }

    #[test]
    fn pages_past_the_end_are_empty() {
        let p = Page { page: 3, size: 2 };
        assert_eq!(p.slice(vec![1, 2, 3, 4, 5]), vec![5]);
        assert!(
            Page { page: 4, size: 2 }
                .slice(vec![1, 2, 3, 4, 5])
                .is_empty()
        );
    }
}
