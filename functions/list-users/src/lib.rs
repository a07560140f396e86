//! `list-users` — `GET /v1/users?status=&limit=&cursor=`: the users of the caller's tenant
//! (needs `users:read`).
//!
//! Newest first, as `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of the
//! previous page (ids are UUIDv7, so id order is creation order). `status` filters on
//! `invited`, `active` or `deactivated` (else 422 `invalid_status`); `limit` is 1..=100,
//! default 20 (else 422 `invalid_limit`). Each item: id, email, name, status, email_verified,
//! roles `[{role_id, name, location_ids}]`, version, created_at, updated_at.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{Json, Query};
use olympus::users;
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use olympus::users::{RoleGrant, UserView};

pub const READ: &str = "users:read";
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// The values of `?status=`.
pub const STATUSES: &[&str] = &["invited", "active", "deactivated"];

pub fn function() -> Function {
    Function::http("list-users")
        .route(&Method::GET, "/v1/users", list)
        .build()
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<Uuid>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<UserView>,
    pub next_cursor: Option<Uuid>,
}

impl ListQuery {
    /// The checked limit and status filter (pure).
    fn check(&self) -> Result<(i64, Option<&str>), Error> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::unprocessable(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_LIMIT}."),
            )
            .with_extension("field", "limit"));
        }
        let status = self.status.as_deref();
        if let Some(status) = status
            && !STATUSES.contains(&status)
        {
            return Err(Error::unprocessable(
                "invalid_status",
                "status must be one of invited, active, deactivated.",
            )
            .with_extension("field", "status"));
        }
        Ok((limit, status))
    }
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page>, Error> {
    principal.require(READ)?;
    let (limit, status) = query.check()?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {} FROM auth.users
                 WHERE ($1::uuid IS NULL OR id < $1) AND ($2::text IS NULL OR status = $2)
                 ORDER BY id DESC
                 LIMIT $3",
                users::COLUMNS
            ),
            &[&query.cursor, &status, &(limit + 1)],
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let mut items = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(UserView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Uuid> = items.iter().map(|u| u.id).collect();
    let mut grants = users::grants_of(&tx, &ids).await?;
    tx.commit().await?;
    for user in &mut items {
        user.roles = grants.remove(&user.id).unwrap_or_default();
    }
    let next_cursor = if more {
        items.last().map(|u| u.id)
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_statuses_are_checked() {
        assert_eq!(ListQuery::default().check().unwrap(), (DEFAULT_LIMIT, None));
        let query = |limit: i64, status: &str| ListQuery {
            status: Some(status.to_owned()),
            limit: Some(limit),
            cursor: None,
        };
        assert_eq!(query(5, "active").check().unwrap(), (5, Some("active")));
        assert_eq!(
            query(0, "active").check().unwrap_err().code(),
            "invalid_limit"
        );
        assert_eq!(
            query(101, "active").check().unwrap_err().code(),
            "invalid_limit"
        );
        assert_eq!(
            query(5, "gone").check().unwrap_err().code(),
            "invalid_status"
        );
    }
}
