//! `update-order` — `PATCH /v1/orders/{id}`: changes an open order (needs `orders:write` and
//! access to its location; `If-Match: "<version>"` required, from the order's `ETag`).
//!
//! Body (every member optional; `null` clears `service_charge`, `note`, `table`, `party_size`,
//! `customer_id`): `lines` (all of the order's lines, as in `POST /v1/orders`), `discounts`,
//! `service_charge`, `tip_minor`, `note`, `table`, `party_size`, `customer_id`. Changing lines,
//! discounts, service charge or tip re-prices the whole order from the catalog now. Answers
//! 200 with the order and its new `ETag`.
//!
//! Errors: 403 `permission_denied`; 404 `not_found`; 409 `order_not_open` (with `status`),
//! `order_has_payments`; 412 `version_mismatch`; 428 `precondition_required`; 400
//! `invalid_if_match`; 422 the codes of `POST /v1/orders/preview`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing (an open
//! order is a draft; `sales.order.placed` carries what was sent).

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::{etag, expected_version};
use olympus::http::{Json, Path};
use olympus::sales::amend::{OrderPatch, amend};
use olympus::sales::orders::{self, WRITE};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("update-order")
        .route(&Method::PATCH, "/v1/orders/{id}", update_order)
        .build()
}

async fn update_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<OrderPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = orders::path_id(&id)?;
    let expected = expected_version(&headers, "order")?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let visible = |location| principal.can_access_location(location);
    let order = amend(
        &tx,
        principal.tenant_id,
        id,
        &visible,
        Some(expected),
        patch,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(order.version))], Json(order)).into_response())
}
