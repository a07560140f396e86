//! `list-roles` — `GET /v1/roles?limit=&cursor=` (needs `roles:read`).
//!
//! The roles of the caller's tenant, built-in and custom, newest first, as
//! `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of the previous page.
//! Each item: id, name, description, permissions, builtin, version, created_at, updated_at.
//! `limit` is 1..=100, default 50.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};

pub const READ: &str = "roles:read";
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-roles")
        .route(&Method::GET, "/v1/roles", list)
        .build()
}

pub use olympus::auth::roles::RoleView;

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<RoleView>>, Error> {
    principal.require(READ)?;
    let limit = page.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            "SELECT id, name, description, permissions, builtin, version, created_at, updated_at
             FROM auth.roles
             WHERE ($1::uuid IS NULL OR id < $1)
             ORDER BY id DESC
             LIMIT $2",
            &[&page.cursor, &fetch_limit(limit)],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<RoleView> = rows.iter().map(RoleView::from_row).collect();
    Ok(Json(Page::from_items(items, limit, |r| r.id)))
}
