//! `list-inventory` — `GET /v1/inventory?location_id=&variant_id=&below_reorder=&limit=&cursor=`:
//! stock levels of the caller's tenant (needs `inventory:read`).
//!
//! One item per (variant, location) that has a stock row (any pair ever moved, counted, held
//! or configured): `variant_id`, `location_id`, `on_hand`, `reserved` (live holds: active and
//! not expired), `available` (`on_hand - reserved`), `oversell` (`block` | `allow_negative`),
//! `reorder_point`, `reorder_quantity`, `below_reorder`, `last_count_at`, `version` (the
//! `ETag` of `PATCH /v1/inventory/levels/{variant_id}/{location_id}`), `updated_at`.
//! Filters: `location_id` (which must be one of the principal's locations: 403
//! `location_denied`), `variant_id`, `below_reorder` (`true`: only pairs at or below their
//! reorder point; `false`: only the others). A principal limited to some locations sees only
//! those. An id of another tenant matches nothing.
//!
//! Order and paging: newest variant first, then location, descending — keyset on
//! `(variant_id, location_id)`. The page is `{"items": [...], "next_cursor": c | null}` where
//! `c` is `"<variant_id>.<location_id>"` of the last item; pass it back as `cursor` (a
//! malformed cursor is 422 `invalid_cursor`). `limit`
//! is 1..=200 (default 50; otherwise 422 `invalid_limit`); a malformed query is 400
//! `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::inventory::{self, LEVEL_COLUMNS, LEVEL_JOIN, LevelView};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn function() -> Function {
    Function::http("list-inventory")
        .route(&Method::GET, "/v1/inventory", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    variant_id: Option<Uuid>,
    #[serde(default)]
    below_reorder: Option<bool>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A page of levels; the cursor names a pair, so it is not the single id of
/// `olympus::http::pagination::Page`.
#[derive(Debug, Serialize)]
struct LevelPage {
    items: Vec<LevelView>,
    next_cursor: Option<String>,
}

fn cursor_of(level: &LevelView) -> String {
    format!("{}.{}", level.variant_id, level.location_id)
}

fn parse_cursor(cursor: &str) -> Result<(Uuid, Uuid), Error> {
    cursor
        .split_once('.')
        .and_then(|(v, l)| Some((Uuid::try_parse(v).ok()?, Uuid::try_parse(l).ok()?)))
        .ok_or_else(|| {
            Error::unprocessable(
                "invalid_cursor",
                "cursor must be the next_cursor of a previous page.",
            )
            .with_extension("field", "cursor")
        })
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<LevelPage>, Error> {
    principal.require(inventory::READ)?;
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit(DEFAULT_LIMIT, MAX_LIMIT)
    .map_err(|e| e.with_extension("field", "limit"))?;
    let (after_variant, after_location) = match query.cursor.as_deref() {
        Some(cursor) => {
            let (v, l) = parse_cursor(cursor)?;
            (Some(v), Some(l))
        }
        None => (None, None),
    };
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {LEVEL_COLUMNS}
                 FROM inventory.stock s
                 {LEVEL_JOIN}
                 WHERE ($1::uuid IS NULL OR s.location_id = $1)
                   AND ($2::uuid IS NULL OR s.variant_id = $2)
                   AND ($3::bool IS NULL OR s.below_reorder = $3)
                   AND ($4::uuid[] IS NULL OR s.location_id = ANY($4))
                   AND ($5::uuid IS NULL OR (s.variant_id, s.location_id) < ($5, $6::uuid))
                 ORDER BY s.variant_id DESC, s.location_id DESC
                 LIMIT $7"
            ),
            &[
                &query.location_id,
                &query.variant_id,
                &query.below_reorder,
                &principal.locations,
                &after_variant,
                &after_location,
                &fetch_limit(limit),
            ],
        )
        .await?;
    tx.commit().await?;
    let mut items = rows
        .iter()
        .map(LevelView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let keep = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > keep;
    items.truncate(keep);
    let next_cursor = if more {
        items.last().map(cursor_of)
    } else {
        None
    };
    Ok(Json(LevelPage { items, next_cursor }))
}
