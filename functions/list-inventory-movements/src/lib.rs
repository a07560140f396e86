//! `list-inventory-movements` — `GET /v1/inventory/movements?location_id=&variant_id=&kind=
//! &reference_type=&reference_id=&limit=&cursor=`: the stock ledger of the caller's tenant
//! (needs `inventory:read`).
//!
//! Items: `id`, `variant_id`, `location_id`, `kind` (`receive`, `sale`, `return`, `adjust`,
//! `waste`, `transfer_out`, `transfer_in`, `count`), `quantity` (signed as it moved stock; for
//! a count the counted level), `delta` (its effect on `on_hand`: 0 for a movement an earlier
//! recorded, later-dated count already saw), `on_hand_after`, `reason`, `actor_user_id`,
//! `occurred_at` (client time), `recorded_at`, `reference_type`, `reference_id` (e.g.
//! `adjustment`/<id>, `transfer`/<id>, `count`/<id>, `order`/<id>). Filters: `location_id`
//! (one of the principal's locations, else 403 `location_denied`), `variant_id`, `kind` (422
//! `invalid_kind` if not one of the kinds), `reference_type`, `reference_id`. A principal
//! limited to some locations sees only those; another tenant's ids match nothing.
//!
//! Newest recorded first, as `{"items": [...], "next_cursor": id | null}`; `cursor` is the
//! last id of the previous page (ids are UUIDv7, so id order is recording order). `limit` is
//! 1..=200 (default 50; otherwise 422 `invalid_limit`); a malformed query is 400
//! `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::inventory::api::{MOVEMENT_COLUMNS, MovementView};
use olympus::inventory::{self, Kind};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn function() -> Function {
    Function::http("list-inventory-movements")
        .route(&Method::GET, "/v1/inventory/movements", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    variant_id: Option<Uuid>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    reference_type: Option<String>,
    #[serde(default)]
    reference_id: Option<String>,
}

/// The kind filter, checked against the ledger's kinds.
fn kind(text: &str) -> Result<&'static str, Error> {
    serde_json::from_value::<Kind>(serde_json::Value::from(text))
        .map(Kind::as_str)
        .map_err(|_| {
            Error::unprocessable(
                "invalid_kind",
                "kind is receive, sale, return, adjust, waste, transfer_out, transfer_in or count.",
            )
            .with_extension("field", "kind")
        })
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<MovementView>>, Error> {
    principal.require(inventory::READ)?;
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let kind = query.kind.as_deref().map(kind).transpose()?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {MOVEMENT_COLUMNS}
                 FROM inventory.movements
                 WHERE ($1::uuid IS NULL OR id < $1)
                   AND ($2::uuid IS NULL OR location_id = $2)
                   AND ($3::uuid IS NULL OR variant_id = $3)
                   AND ($4::text IS NULL OR kind = $4)
                   AND ($5::text IS NULL OR reference_type = $5)
                   AND ($6::text IS NULL OR reference_id = $6)
                   AND ($7::uuid[] IS NULL OR location_id = ANY($7))
                 ORDER BY id DESC
                 LIMIT $8"
            ),
            &[
                &page.cursor,
                &query.location_id,
                &query.variant_id,
                &kind,
                &query.reference_type,
                &query.reference_id,
                &principal.locations,
                &fetch_limit(limit),
            ],
        )
        .await?;
    tx.commit().await?;
    let items = rows
        .iter()
        .map(MovementView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_items(items, limit, |m| m.id)))
}
