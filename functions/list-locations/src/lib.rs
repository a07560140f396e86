//! `list-locations` — `GET /v1/locations?limit=&cursor=&include_inactive=`: the locations of
//! the caller's tenant (needs `locations:read`).
//!
//! Newest first, as `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of
//! the previous page (ids are UUIDv7, so id order is creation order). A principal limited to
//! some locations sees only those. Active locations only unless `include_inactive=true`.
//! `limit` is 1..=100 (default 20; otherwise 422 `invalid_limit`); a malformed query is 400
//! `invalid_query`. Items have the shape of `GET /v1/locations/{id}` (with `day_cutoff`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::locations::COLUMNS;
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub use olympus::locations::LocationView;

/// The permission listing locations needs.
pub const READ: &str = "locations:read";
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-locations")
        .route(&Method::GET, "/v1/locations", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    include_inactive: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<LocationView>>, Error> {
    principal.require(READ)?;
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let include_inactive = query.include_inactive.unwrap_or(false);
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS}
                 FROM platform.locations
                 WHERE ($1::uuid IS NULL OR id < $1)
                   AND ($2::uuid[] IS NULL OR id = ANY($2))
                   AND ($3 OR active)
                 ORDER BY id DESC
                 LIMIT $4"
            ),
            &[
                &page.cursor,
                &principal.locations,
                &include_inactive,
                &fetch_limit(limit),
            ],
        )
        .await?;
    tx.commit().await?;
    let items = rows
        .iter()
        .map(LocationView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_items(items, limit, |l| l.id)))
}
