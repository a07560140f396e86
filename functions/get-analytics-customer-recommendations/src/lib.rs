//! `get-analytics-customer-recommendations` — `GET /v1/analytics/recommendations/customers/
//! {id}?limit=`: products customer `id` has not bought that customers who bought what it
//! bought also buy (needs `analytics:read`).
//!
//! Method (`olympus::analytics::recommendations`): item-based collaborative filtering over the
//! co-occurrence pairs of the nightly `build-recommendations` job — each product the customer
//! never bought (placed or completed orders, any time) scores Σ confidence(bought → it) over
//! the customer's products, counting positively associated pairs only (lift > 1). Archived
//! and unavailable products are never suggested. With no purchases, or none with such
//! associations, the answer falls back to the window's most popular products the customer has
//! not bought; `method` says which (`item_based_cooccurrence` | `most_popular`, with
//! `fallback`: `no_history` | `no_associations`, or `all_bought` with no items when the
//! customer has bought every product of the window's baskets). A merged duplicate answers for the customer
//! it was merged into. The pairs summarise every location of the tenant, so a principal
//! restricted to some locations gets 403 `location_denied`.
//!
//! `limit` is 1..=50 (default 10). Answers `{customer_id, method, fallback?, limit, build:
//! {built_at, window_days, window_from, window_to, basket_count, min_pair_count} | null,
//! purchased_product_count, items: [{rank, product_id, product_name, score, because_of:
//! [product ids], basket_count}]}`; `score` is the summed confidence (item-based) or the share
//! of baskets holding the product (most popular), six decimals.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found` (no such customer in
//! this tenant); 422 `invalid_limit`; 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::{Path, State};
use axum::http::Method;
use olympus::analytics::recommendations::{self, CustomerRecommendations};
use olympus::analytics::report::READ;
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-customer-recommendations")
        .route(
            &Method::GET,
            "/v1/analytics/recommendations/customers/{id}",
            handle,
        )
        .build()
}

#[derive(Debug, Deserialize)]
struct Params {
    #[serde(default)]
    limit: Option<i64>,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<CustomerRecommendations>, Error> {
    principal.require(READ)?;
    recommendations::require_every_location(&principal)?;
    let limit = recommendations::limit(params.limit)?;
    // A malformed id names no customer: the same 404 as an unknown one.
    let customer = Uuid::try_parse(&id).map_err(|_| Error::not_found("No such customer."))?;
    let client = state.db()?.get().await?;
    let answer =
        recommendations::for_customer(&client, principal.tenant_id, customer, limit).await?;
    Ok(Json(answer))
}
