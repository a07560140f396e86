//! `list-orders` — `GET /v1/orders?location_id=&status=&payment_status=&channel=&customer_id=
//! &from=&to=&limit=&cursor=`: the caller's tenant's orders with their lines (needs
//! `orders:read`).
//!
//! Filters: `location_id` (one of the principal's locations, else 403 `location_denied`),
//! `status` (`open`, `placed`, `completed`, `cancelled`), `payment_status` (`unpaid`,
//! `partially_paid`, `paid`, `partially_refunded`, `refunded`), `channel`, `customer_id`, and
//! `from`/`to`: business days (`YYYY-MM-DD`, inclusive; an order's business day is its
//! location's local date of the order's client time). A principal limited to some locations
//! sees only those. A filter value outside its set is 400 `invalid_query`; `from` after `to`
//! is 422 `invalid_range`.
//!
//! Newest first, as `{"items": [...], "next_cursor": id | null}`; `limit` is 1..=100 (default
//! 25; otherwise 422 `invalid_limit`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use chrono::NaiveDate;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::sales::orders::{self, ListFilter, OrderView, PaymentStatus, READ, Status};
use olympus::sales::quote::Channel;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-orders")
        .route(&Method::GET, "/v1/orders", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    payment_status: Option<PaymentStatus>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    customer_id: Option<Uuid>,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<OrderView>>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(
            Error::unprocessable("invalid_range", "`from` must not be after `to`.")
                .with_extension("field", "from"),
        );
    }
    let filter = ListFilter {
        cursor: page.cursor,
        location_id: query.location_id,
        locations: principal.locations.clone(),
        status: query.status,
        payment_status: query.payment_status,
        channel: query.channel.as_ref().map(orders::wire_name),
        customer_id: query.customer_id,
        from: query.from,
        to: query.to,
        limit: fetch_limit(limit),
    };
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let items = orders::list(&tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::from_items(items, limit, |order| order.id)))
}
