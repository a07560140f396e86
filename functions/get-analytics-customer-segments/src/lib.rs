//! `get-analytics-customer-segments` — `GET /v1/analytics/customers/segments?as_of=&location=
//! &currency=&segment=&limit=&cursor=`: RFM scores and segments of the caller's tenant's
//! customers (needs `analytics:read`).
//!
//! From the customer statistics kept by `on-order-paid-update-customer-stats` (one row per
//! paid order of a customer: amount, refunded, the order's business date). Per customer and
//! currency as of the business date `as_of` (default today, UTC; later orders do not count):
//! recency (days since the last order), frequency (orders) and monetary (spend less refunds),
//! each scored 1–5 by quintile among the customers of the same currency, and the segment of
//! the R × F grid (`champions`, `loyal`, `new`, `at_risk`, `lost`; each segment's `rule` says
//! which scores it holds). See `olympus::analytics::segments` for the scheme.
//!
//! `location` (alias `location_id`) counts only the orders of one location, which must be one
//! of the principal's (403 `location_denied`); without it, every location the principal may
//! see. `currency` keeps one currency. `segment` adds a page of that segment's customers with
//! their scores (`limit` 1..=100, default 20; `cursor` the last `customer_id` of the previous
//! page; newest customers first); with customers in several currencies it needs `currency`
//! or `location` (422 `mixed_currencies`).
//!
//! Answers `{as_of, location_id, currency, scheme: {...}, markets: [{currency,
//! customer_count, segments: [{segment, rule, customer_count, share, average_recency_days,
//! average_frequency, average_monetary_minor}]}], customers?: {segment, currency, items:
//! [{customer_id, name, currency, first_order_date, last_order_date, recency_days, frequency,
//! monetary_minor, r, f, m, rfm, segment}], next_cursor}}`: one market per currency, every
//! segment listed (empty ones with `null` averages).
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `invalid_date`, `invalid_currency`,
//! `invalid_segment`, `invalid_limit`, `segment_required`, `mixed_currencies`; 400
//! `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::analytics::report::{READ, Scope};
use olympus::analytics::segments::{self, RawQuery, SegmentsQuery, SegmentsReport};
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-customer-segments")
        .route(&Method::GET, "/v1/analytics/customers/segments", handle)
        .build()
}

#[derive(Debug, Deserialize)]
struct SegmentsParams {
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<Uuid>,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<SegmentsParams>,
) -> Result<Json<SegmentsReport>, Error> {
    principal.require(READ)?;
    if let Some(location) = params.location {
        principal.require_location(location)?;
    }
    let query = SegmentsQuery::parse(
        &RawQuery {
            as_of: params.as_of.as_deref(),
            currency: params.currency.as_deref(),
            segment: params.segment.as_deref(),
            limit: params.limit,
            cursor: params.cursor,
        },
        SegmentsQuery::today(),
    )?;
    let scope = Scope {
        location: params.location,
        locations: principal.locations.clone(),
    };
    let client = state.db()?.get().await?;
    let report = segments::segments(&client, principal.tenant_id, &query, &scope).await?;
    Ok(Json(report))
}
