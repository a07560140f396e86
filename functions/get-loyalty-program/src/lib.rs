//! `get-loyalty-program` — `GET /v1/loyalty/program`: the caller's tenant's loyalty program
//! (needs `customers:read`).
//!
//! Answers 200 with `points_per_unit`, `rounding` (`down`, `nearest`, `up`), `tiers`
//! (`[{name, threshold, multiplier}]`), `rewards` (`[{id, name, points, discount}]`),
//! `points_expire_days` (null: never), `active`, `version` and `updated_at`, with
//! `ETag: "<version>"`. 404 `no_program` when the tenant has none yet.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::customers::READ;
use olympus::db;
use olympus::http::Json;
use olympus::http::versioning::etag;
use olympus::loyalty;
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("get-loyalty-program")
        .route(&Method::GET, "/v1/loyalty/program", get_program)
        .build()
}

async fn get_program(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let stored = loyalty::load_program(&tx, false)
        .await?
        .ok_or_else(loyalty::no_program)?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(stored.version))], Json(stored.view())).into_response())
}
