//! `get-analytics-forecast` — `GET /v1/analytics/forecast?variant=&location=&days=`: the daily
//! demand forecast of one variant at one location, with prediction intervals, the backtest
//! error and a reorder suggestion (needs `analytics:read`).
//!
//! `variant` and `location` (aliases `variant_id`, `location_id`) are required: demand and
//! stock are a location's own, and a reorder is placed for one location. `location` must be
//! one of the principal's (403 `location_denied`). `days` is the horizon, 1..=90 (default 14),
//! starting with the location's current business day.
//!
//! The model (additive Holt-Winters, weekly season, damped trend, fitted by grid search on the
//! one-step squared errors) learns from the complete business days of the last 16 weeks of
//! the variant rollup, days without sales at 0; it needs two weeks (else 422
//! `insufficient_history` with `days_available` and `days_needed`) and six for the backtest
//! (fitted without the last 4 weeks, scored on them: MAPE over the days that sold, MAE over
//! all; `backtest` is null with less). Formulas: `olympus::analytics::forecast`.
//!
//! Answers `{variant_id, product_id, product_name, variant_name, location_id, days, method:
//! {name, season_days, fitted_by, alpha, beta, gamma, phi, sigma, interval}, history: {from,
//! to, days, days_with_sales, units_sold}, backtest: {from, to, days, mape, mape_days, mae} |
//! null, forecast: [{business_date, weekday, quantity, lower_80, upper_80, lower_95,
//! upper_95}], reorder: {on_hand, reserved, available, reorder_point, reorder_quantity, demand,
//! safety_stock, service_level, suggested_quantity, stockout_date} | null}`; quantities are
//! units (two decimals), every bound at least 0; `reorder` is null for a variant whose stock
//! is not tracked. Figures are as of the last `rollup-sales` run.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found` (no such variant or
//! location in the caller's tenant); 422 `variant_required`, `location_required`,
//! `invalid_days`, `insufficient_history`; 400 `invalid_query` (a malformed id or number).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::analytics::forecast::{self, Forecast};
use olympus::analytics::report::READ;
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-forecast")
        .route(&Method::GET, "/v1/analytics/forecast", handle)
        .build()
}

#[derive(Debug, Deserialize)]
struct ForecastQuery {
    #[serde(default, alias = "variant_id")]
    variant: Option<Uuid>,
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
    #[serde(default)]
    days: Option<i64>,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ForecastQuery>,
) -> Result<Json<Forecast>, Error> {
    principal.require(READ)?;
    let variant = forecast::required(query.variant, "variant", "variant_required")?;
    let location = forecast::required(query.location, "location", "location_required")?;
    principal.require_location(location)?;
    let days = forecast::days(query.days)?;
    let client = state.db()?.get().await?;
    let answer = forecast::forecast(&client, principal.tenant_id, variant, location, days).await?;
    Ok(Json(answer))
}
