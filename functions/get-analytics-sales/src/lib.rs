//! `get-analytics-sales` — `GET /v1/analytics/sales?from=&to=&granularity=&location=&channel=`:
//! sales figures of the caller's tenant from the rollups (needs `analytics:read`).
//!
//! `from` and `to` are business dates (`YYYY-MM-DD`, inclusive, at most 366 days);
//! `granularity` is `hour` (local wall-clock hours with sales; each bucket names its
//! business date), `day` (default), `week` (ISO, Monday first) or `month`; day, week and
//! month buckets cover the whole range, empty ones at zero, the first and last clipped to it.
//! `location` (alias `location_id`) sums one location, which must be one of the principal's
//! (403 `location_denied`); without it, every location the principal may see. `channel`
//! (`dine_in`, `takeout`, `delivery`, `pickup`, `online`) keeps that channel's orders and the
//! refunds of its orders.
//!
//! Answers `{from, to, granularity, location_id, channel, currency, series: [{start, end,
//! [business_date,] figures...}], totals, previous: {from, to, totals}, change: {figure:
//! {absolute, percent}}}` where `previous` is the period of equal length just before and
//! `percent` is null when the previous figure is 0. Figures: `order_count`,
//! `gross_sales_minor`, `discounts_minor`, `net_sales_minor`, `tax_minor`,
//! `tax_included_minor`, `service_charges_minor`, `tips_minor`, `total_minor`,
//! `refunds_minor`, `refund_count`, `items_sold`, `covers`, `cost_of_goods_minor`,
//! `costed_items`, `average_order_minor` (what each counts: shared/migrations/V10). The
//! figures are as of the last `rollup-sales` run (every 15 minutes).
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `invalid_range` (missing, or
//! `from` after `to`), `invalid_date`, `range_too_long`, `invalid_granularity`,
//! `invalid_channel`, `mixed_currencies` (the locations sell in several currencies: choose
//! one); 400 `invalid_query` (a malformed `location`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::analytics::report::{self, Granularity, READ, Range, SalesReport, Scope};
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-sales")
        .route(&Method::GET, "/v1/analytics/sales", sales)
        .build()
}

#[derive(Debug, Deserialize)]
struct SalesQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    granularity: Option<String>,
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
    #[serde(default)]
    channel: Option<String>,
}

async fn sales(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<SalesQuery>,
) -> Result<Json<SalesReport>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location {
        principal.require_location(location)?;
    }
    let range = Range::parse(query.from.as_deref(), query.to.as_deref())?;
    let granularity = Granularity::parse(query.granularity.as_deref())?;
    let channel = report::channel(query.channel.as_deref())?;
    let scope = Scope {
        location: query.location,
        locations: principal.locations.clone(),
    };
    let client = state.db()?.get().await?;
    let report = report::sales(
        &client,
        principal.tenant_id,
        range,
        granularity,
        &scope,
        channel.as_deref(),
    )
    .await?;
    Ok(Json(report))
}
