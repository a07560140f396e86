//! `list-tax-rates` — `GET /v1/tax-rates?location_id=&tax_category=&include_archived=`: the
//! caller's tenant's tax rates (needs `catalog:read`).
//!
//! Answers `{"items": [...]}` ordered by `tax_category`, `name` (then id). `location_id`
//! keeps the rates of that location plus the rates of every location (`location_id` null);
//! it must be a location the principal may act on (403 `location_denied`) and of the tenant
//! (422 `unknown_location`, another tenant's included). A principal limited to some
//! locations sees only the all-location rates and those of its locations. `tax_category`
//! keeps one category (422 `invalid_tax_category` when it cannot be one). Live rates only
//! unless `include_archived=true`. Not paginated: at most 1000 rates, then
//! `"truncated": true`. A malformed query (e.g. a `location_id` that is no UUID) is 400
//! `invalid_query`; without the permission, 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::catalog::{READ, TAX_RATE_COLUMNS, TaxRateView, ensure_location, validate};
use olympus::db;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most rates one answer holds.
pub const MAX_RATES: usize = 1000;

pub fn function() -> Function {
    Function::http("list-tax-rates")
        .route(&Method::GET, "/v1/tax-rates", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    tax_category: Option<String>,
    #[serde(default)]
    include_archived: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Rates {
    items: Vec<TaxRateView>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Rates>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let tax_category = query
        .tax_category
        .as_deref()
        .map(validate::tax_category)
        .transpose()?;
    let include_archived = query.include_archived.unwrap_or(false);
    let limit = i64::try_from(MAX_RATES + 1).unwrap_or(i64::MAX);

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    if let Some(location) = query.location_id {
        ensure_location(&tx, location, "location_id").await?;
    }
    let rows = tx
        .query(
            &format!(
                "SELECT {TAX_RATE_COLUMNS} FROM catalog.tax_rates
                 WHERE ($1::uuid IS NULL OR location_id IS NULL OR location_id = $1)
                   AND ($2::uuid[] IS NULL OR location_id IS NULL OR location_id = ANY($2))
                   AND ($3::text IS NULL OR tax_category = $3)
                   AND ($4 OR archived_at IS NULL)
                 ORDER BY tax_category, name, id
                 LIMIT $5"
            ),
            &[
                &query.location_id,
                &principal.locations,
                &tax_category,
                &include_archived,
                &limit,
            ],
        )
        .await?;
    tx.commit().await?;
    let mut items = rows
        .iter()
        .map(TaxRateView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let truncated = items.len() > MAX_RATES;
    items.truncate(MAX_RATES);
    Ok(Json(Rates { items, truncated }))
}
