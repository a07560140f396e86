//! `list-customers` — `GET /v1/customers?q=&limit=&cursor=`: the caller's tenant's live
//! customers, newest first (needs `customers:read`). Merged duplicates are never listed.
//!
//! `q` (at most 200 characters, else 422 `invalid_search`) searches: a customer matches when
//! its name is trigram-similar to `q` (typos still find it) or contains it
//! (case-insensitive), when its email contains it, or — when `q` looks like part of a phone
//! number (three or more digits, with spaces, `+`, `-`, `.` or brackets) — when its E.164
//! phone contains those digits. Matches are listed newest first too, so the cursor is always
//! the last id of the previous page.
//!
//! Answers `{"items": [...], "next_cursor": id | null}`; `limit` is 1..=100 (default 25,
//! otherwise 422 `invalid_limit`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::customers::{self, CustomerView, READ};
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-customers")
        .route(&Method::GET, "/v1/customers", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Page<CustomerView>>, Error> {
    principal.require(READ)?;
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let q = customers::search_text(query.q.as_deref())?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let items = customers::search(&tx, q.as_deref(), page.cursor, fetch_limit(limit)).await?;
    tx.commit().await?;
    Ok(Json(Page::from_items(items, limit, |c| c.id)))
}
