//! `get-analytics-top-products` — `GET /v1/analytics/products/top?from=&to=&by=&limit=
//! &location=`: the caller's tenant's best-selling products from the rollups (needs
//! `analytics:read`).
//!
//! `from` and `to` are business dates (`YYYY-MM-DD`, inclusive, at most 366 days); `by` is
//! `quantity` (default) or `net_sales`; `limit` is 1..=100 (default 10). `location` (alias
//! `location_id`) keeps one location, which must be one of the principal's (403
//! `location_denied`); without it, every location the principal may see. Only orders counted
//! as sales count (placed or completed; see shared/migrations/V10).
//!
//! Answers `{from, to, by, limit, location_id, currency, items: [{rank, product_id,
//! product_name, quantity, order_count, gross_sales_minor, discounts_minor, net_sales_minor,
//! cost_of_goods_minor, costed_quantity}]}`, ties broken by the other measure, then by
//! product id; `product_name` is its catalog name now (as sold, if it left the catalog), and
//! `cost_of_goods_minor` covers the `costed_quantity` units whose cost was known.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `invalid_range`, `invalid_date`,
//! `range_too_long`, `invalid_by`, `invalid_limit`, `mixed_currencies`; 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::analytics::report::{self, READ, Range, Scope, TopBy, TopProducts};
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-top-products")
        .route(&Method::GET, "/v1/analytics/products/top", top)
        .build()
}

#[derive(Debug, Deserialize)]
struct TopQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
}

async fn top(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<TopQuery>,
) -> Result<Json<TopProducts>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location {
        principal.require_location(location)?;
    }
    let range = Range::parse(query.from.as_deref(), query.to.as_deref())?;
    let by = TopBy::parse(query.by.as_deref())?;
    let limit = report::top_limit(query.limit)?;
    let scope = Scope {
        location: query.location,
        locations: principal.locations.clone(),
    };
    let client = state.db()?.get().await?;
    let top = report::top_products(&client, principal.tenant_id, range, by, limit, &scope).await?;
    Ok(Json(top))
}
