//! `post-analytics-ask` — `POST /v1/analytics/ask`: a question about the caller's tenant's
//! sales in plain English, answered from the rollups (needs `analytics:read`).
//!
//! Body: `{"question": "sales last week by location"}` (at most 300 characters; the body at
//! most 4 KiB). A read: nothing is stored, so `Idempotency-Key` is neither needed nor read
//! (like `POST /v1/orders/preview`).
//!
//! The question is parsed by `olympus::analytics::ask::parse` (its documentation lists the
//! words understood) into metrics (net and gross sales, orders, average order value, items
//! sold, tips, refunds, covers, discounts, tax), one breakdown (location, channel, day,
//! week, month, hour, weekday, product), filters (locations by name, among the principal's
//! only; channel; days of the week; hours of the business day), a time range in business
//! dates and an optional comparison or ranking, and answered for the principal's locations.
//! Relative dates are the business day at the first location named, else the principal's
//! first location (`interpreted.today`, `interpreted.today_at` when other locations are on
//! another date at the time).
//!
//! Answers `{question, interpreted: {metric, metrics, dimension, filters: {locations: [{id,
//! name}], channel, weekdays, hours: {from, to}}, range: {from, to}, comparison: {kind, range}
//! | null, limit, order, text, today, today_at, assumed}, answer, columns, rows, totals,
//! [comparison: {kind, from, to, totals, change}]}`: `answer` is one sentence with the figures
//! in major units ("£1,234.50"); `rows` are arrays in the order of `columns`; money is in
//! minor units with a `currency` column, never added across currencies (rows and totals are
//! per currency when the scope trades in several).
//!
//! Errors: 403 `permission_denied`; 422 `unrecognised_question` (with `understood`,
//! `missing`, `not_understood` and `suggestions`), `unknown_location` (with `name` and
//! `known`: the principal's location names), `unsupported_question` (e.g. tips by product),
//! `invalid_range`, `range_too_long`, `invalid_limit`, `invalid_hours`, `question_too_long`,
//! `invalid_body`; 400 `malformed_json`; 413 `payload_too_large`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use chrono::Utc;
use olympus::analytics::ask::{self, Answer};
use olympus::analytics::report::READ;
use olympus::auth::Principal;
use olympus::http::Json;
use olympus::{AppState, Error, Function};
use serde::Deserialize;

/// A question is a sentence: a few KiB is plenty.
const BODY_LIMIT: usize = 4 * 1024;

pub fn function() -> Function {
    Function::http("post-analytics-ask")
        .route(&Method::POST, "/v1/analytics/ask", handle)
        .body_limit(BODY_LIMIT)
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AskBody {
    question: String,
}

async fn handle(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<AskBody>,
) -> Result<Json<Answer>, Error> {
    principal.require(READ)?;
    let client = state.db()?.get().await?;
    let answer = ask::ask(&client, &principal, &body.question, Utc::now()).await?;
    Ok(Json(answer))
}
