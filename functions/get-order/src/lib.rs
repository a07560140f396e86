//! `get-order` — `GET /v1/orders/{id}`: one order of the caller's tenant with its lines, totals,
//! `payment_status` and `next_states` (needs `orders:read`).
//!
//! Answers 200 with the order and `ETag: "<version>"` (for `PATCH /v1/orders/{id}`'s
//! `If-Match`). An unknown, malformed or other tenant's id, or an order at a location the
//! caller may not access, is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{Json, Path};
use olympus::sales::orders::{self, READ};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("get-order")
        .route(&Method::GET, "/v1/orders/{id}", get_order)
        .build()
}

async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let id = orders::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let order = orders::load(&tx, id)
        .await?
        .filter(|order| principal.can_access_location(order.location_id))
        .ok_or_else(orders::not_found)?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(order.version))], Json(order)).into_response())
}
