//! `get-customer` — `GET /v1/customers/{id}`: one customer of the caller's tenant with its
//! order statistics (order count, lifetime spend, average order value, first and last order;
//! needs `customers:read`).
//!
//! Answers 200 with the customer and `ETag: "<version>"` (for `PATCH`'s `If-Match`). An
//! unknown, malformed or other tenant's id is 404 `not_found`; a customer merged into another
//! is 410 `customer_merged` with `merged_into` (the survivor's id, which answers for it now).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::customers::{self, READ};
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{Json, Path};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("get-customer")
        .route(&Method::GET, "/v1/customers/{id}", get_customer)
        .build()
}

async fn get_customer(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let id = customers::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let customer = customers::load_live(&tx, id, false).await?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(customer.version))], Json(customer)).into_response())
}
