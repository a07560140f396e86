//! `get-analytics-anomalies` — `GET /v1/analytics/anomalies?from=&to=&location=&threshold=`:
//! the business days whose net sales deviate from the expected value, per location (needs
//! `analytics:read`).
//!
//! `from` and `to` are business dates (`YYYY-MM-DD`, inclusive, at most 366 days); without
//! both, the last 28 days up to today (UTC). `location` (alias `location_id`) checks one
//! location, which must be one of the principal's (403 `location_denied`) and exist (404);
//! without it, every active location the principal may see, each against its own history.
//! `threshold` is the robust z-score beyond which a day is anomalous, in (0, 50] (default 3).
//!
//! Expected value: the median net sales (daily rollup) of the same weekday over the previous
//! 8 weeks (at least 4, else the day is skipped); deviation: `z = (actual − median) /
//! max(1.4826·MAD, 5 % of the median, 1 minor unit)`. A location's current business day and
//! later ones are skipped (not over). Details: `olympus::analytics::anomalies`.
//!
//! Answers `{from, to, location_id, threshold, method: {expected, deviation, threshold},
//! locations: [{location_id, name, currency, days_checked, days_skipped_history,
//! days_skipped_incomplete, anomalies}], anomalies: [{location_id, business_date, weekday,
//! currency, actual_minor, expected_minor, deviation_minor, z, direction: spike|drop,
//! history_weeks}]}`, anomalies by business date. Figures are as of the last `rollup-sales`
//! run.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found`; 422 `invalid_range`,
//! `invalid_date`, `range_too_long`, `invalid_threshold`; 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::analytics::anomalies::{self, Anomalies};
use olympus::analytics::report::READ;
use olympus::auth::Principal;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-analytics-anomalies")
        .route(&Method::GET, "/v1/analytics/anomalies", handle)
        .build()
}

#[derive(Debug, Deserialize)]
struct AnomaliesQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
    #[serde(default)]
    threshold: Option<f64>,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<AnomaliesQuery>,
) -> Result<Json<Anomalies>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location {
        principal.require_location(location)?;
    }
    let today = anomalies::utc_today();
    let range = anomalies::range(query.from.as_deref(), query.to.as_deref(), today)?;
    let threshold = anomalies::threshold(query.threshold)?;
    let client = state.db()?.get().await?;
    let answer = anomalies::anomalies(
        &client,
        principal.tenant_id,
        range,
        threshold,
        query.location,
        principal.locations.as_deref(),
    )
    .await?;
    Ok(Json(answer))
}
