//! `get-analytics-product-recommendations` — `GET /v1/analytics/recommendations/products/{id}
//! ?by=&limit=`: the products most often bought together with product `id` in the caller's
//! tenant (needs `analytics:read`), from the pairs the nightly `build-recommendations` job
//! built (shared/migrations/V13: baskets are the distinct products of placed or completed
//! orders of the last N days).
//!
//! `by` is `lift` (default) or `confidence`; `limit` is 1..=50 (default 10). Archived or
//! unavailable (no live variant) companions are left out. The figures summarise every
//! location of the tenant, so a principal restricted to some locations gets 403
//! `location_denied`.
//!
//! Answers `{product_id, product_name, by, limit, build: {built_at, window_days, window_from,
//! window_to, basket_count, min_pair_count} | null, basket_count, items: [{rank, product_id,
//! product_name, pair_count, antecedent_count, consequent_count, basket_count, support,
//! confidence, lift}]}` (measures to six decimals; `build` is null, and `items` empty, before
//! the first build). Ties are broken by the other measure, the pair count, then product id.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found` (no such product in
//! this tenant); 422 `invalid_by`, `invalid_limit`; 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::{Path, State};
use axum::http::Method;
use olympus::analytics::recommendations::{self, ProductRecommendations, RankBy};
use olympus::analytics::report::READ;
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-product-recommendations")
        .route(
            &Method::GET,
            "/v1/analytics/recommendations/products/{id}",
            handle,
        )
        .build()
}

#[derive(Debug, Deserialize)]
struct Params {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<ProductRecommendations>, Error> {
    principal.require(READ)?;
    recommendations::require_every_location(&principal)?;
    let by = RankBy::parse(params.by.as_deref())?;
    let limit = recommendations::limit(params.limit)?;
    // A malformed id names no product: the same 404 as an unknown one.
    let product = Uuid::try_parse(&id).map_err(|_| Error::not_found("No such product."))?;
    let client = state.db()?.get().await?;
    let answer =
        recommendations::for_product(&client, principal.tenant_id, product, by, limit).await?;
    Ok(Json(answer))
}
