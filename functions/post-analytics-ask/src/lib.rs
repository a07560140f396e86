//! `post-analytics-ask` — `POST /v1/analytics/ask` (issue 6; being built).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::http::Method;
use olympus::auth::Principal;
use olympus::http::Json;
use olympus::{Error, Function};

pub fn function() -> Function {
    Function::http("post-analytics-ask")
        .route(&Method::POST, "/v1/analytics/ask", handle)
        .build()
}

async fn handle(principal: Principal) -> Result<Json<serde_json::Value>, Error> {
    principal.require(olympus::analytics::report::READ)?;
    Err(Error::unavailable(std::io::Error::other("not built yet")))
}
