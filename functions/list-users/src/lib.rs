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
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::users;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
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
}

impl ListQuery {
    /// The checked limit and status filter (pure).
    fn check(&self, page: &PageQuery) -> Result<(i64, Option<&str>), Error> {
        let limit = page
            .limit(DEFAULT_LIMIT, MAX_LIMIT)
            .map_err(|e| e.with_extension("field", "limit"))?;
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
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<UserView>>, Error> {
    principal.require(READ)?;
    let (limit, status) = query.check(&page)?;
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
            &[&page.cursor, &status, &fetch_limit(limit)],
        )
        .await?;
    let items = rows
        .iter()
        .map(UserView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let mut page = Page::from_items(items, limit, |u| u.id);
    let ids: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
    let mut grants = users::grants_of(&tx, &ids).await?;
    tx.commit().await?;
    for user in &mut page.items {
        user.roles = grants.remove(&user.id).unwrap_or_default();
    }
    Ok(Json(page))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_statuses_are_checked() {
        assert_eq!(
            ListQuery::default().check(&PageQuery::default()).unwrap(),
            (DEFAULT_LIMIT, None)
        );
        let status = |status: &str| ListQuery {
            status: Some(status.to_owned()),
        };
        let page = |limit: i64| PageQuery {
            limit: Some(limit),
            cursor: None,
        };
        assert_eq!(
            status("active").check(&page(5)).unwrap(),
            (5, Some("active"))
        );
        assert_eq!(
            status("active").check(&page(0)).unwrap_err().code(),
            "invalid_limit"
        );
        assert_eq!(
            status("active").check(&page(101)).unwrap_err().code(),
            "invalid_limit"
        );
        assert_eq!(
            status("gone").check(&page(5)).unwrap_err().code(),
            "invalid_status"
        );
    }
}
