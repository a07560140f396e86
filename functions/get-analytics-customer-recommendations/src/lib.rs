//! `get-analytics-customer-recommendations` — `GET /v1/analytics/recommendations/customers/{id}` (issue 6; being built).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::http::Method;
use olympus::auth::Principal;
use olympus::http::Json;
use olympus::{Error, Function};

pub fn function() -> Function {
    Function::http("get-analytics-customer-recommendations")
        .route(
            &Method::GET,
            "/v1/analytics/recommendations/customers/{id}",
            handle,
        )
        .build()
}

async fn handle(principal: Principal) -> Result<Json<serde_json::Value>, Error> {
    principal.require(olympus::analytics::report::READ)?;
    Err(Error::unavailable(std::io::Error::other("not built yet")))
}
