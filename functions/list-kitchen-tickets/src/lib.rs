//! `list-kitchen-tickets` — `GET /v1/kitchen/tickets?location=&station=&status=&limit=&cursor=`:
//! the kitchen tickets of the caller's tenant with their items, oldest first — what a kitchen
//! display polls (needs `kitchen:read`).
//!
//! Filters: `location` (also `location_id`; one of the principal's locations, else 403
//! `location_denied`), `station` (also `station_id`), `status` (a comma-separated list of
//! `pending`, `preparing`, `ready`, `served`, `voided`; absent: `pending,preparing,ready`, the
//! tickets still on the pass). A principal limited to some locations sees only those. A
//! malformed query or unknown status is 400 `invalid_query`.
//!
//! Answers `{"items": [...], "next_cursor": id | null}`, each ticket with its station name,
//! order number, table, channel, order note, items (product, variant, quantity, modifiers,
//! note), status, `next_states` and the time of each state; `limit` is 1..=100 (default 50;
//! otherwise 422 `invalid_limit`); `cursor` is the last id of the previous page.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::kitchen::READ;
use olympus::kitchen::tickets::{self, ListFilter, Status, TicketView};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-kitchen-tickets")
        .route(&Method::GET, "/v1/kitchen/tickets", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
    #[serde(default, alias = "station_id")]
    station: Option<Uuid>,
    #[serde(default)]
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<TicketView>>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location {
        principal.require_location(location)?;
    }
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let statuses = match query.status.as_deref() {
        Some(text) => tickets::parse_status_list(text)?,
        None => Status::OPEN.to_vec(),
    };
    let filter = ListFilter {
        cursor: page.cursor,
        location_id: query.location,
        locations: principal.locations.clone(),
        station_id: query.station,
        statuses,
        limit: fetch_limit(limit),
    };
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let items = tickets::list(&tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::from_items(items, limit, |ticket| ticket.id)))
}
