//! `list-locations` — `GET /v1/locations?limit=&cursor=&include_inactive=`: the locations of
//! the caller's tenant (needs `locations:read`).
//!
//! Newest first, as `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of
//! the previous page (ids are UUIDv7, so id order is creation order). A principal limited to
//! some locations sees only those. Active locations only unless `include_inactive=true`.
//! `limit` is 1..=100 (default 20; otherwise 422 `invalid_limit`); a malformed query is 400
//! `invalid_query`. Items have the shape of `GET /v1/locations/{id}`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{Json, Query};
use olympus::locations::COLUMNS;
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<Uuid>,
    #[serde(default)]
    include_inactive: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<LocationView>,
    pub next_cursor: Option<Uuid>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page>, Error> {
    principal.require(READ)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        )
        .with_extension("field", "limit"));
    }
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
                &query.cursor,
                &principal.locations,
                &include_inactive,
                &(limit + 1),
            ],
        )
        .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(LocationView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if more {
        items.last().map(|l| l.id)
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}
