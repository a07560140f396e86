//! `cancel-order` — `POST /v1/orders/{id}/cancel`: cancels an open or placed order with a
//! reason (needs `orders:write`).
//!
//! Body: `reason` (1 to 500 characters), `restock` (default true: a placed order's sold stock
//! goes back with `return` movements; false when it was consumed, e.g. the food was made).
//! Answers 200 with the order (`status: cancelled`, `cancelled_at`, `cancel_reason`) and its
//! `ETag`. Honours `Idempotency-Key`. The order's kitchen tickets that were not served are
//! voided.
//!
//! Errors: 403 `permission_denied`; 404 `not_found`; 409 `invalid_transition` (with `status`
//! and `next_states`), `order_has_payments` (refund first); 422 `invalid_reason`,
//! `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.order.cancelled`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use olympus::auth::Principal;
use olympus::db;
use olympus::events::sales::OrderCancelled;
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Json, Path};
use olympus::sales::lifecycle::{self, actor};
use olympus::sales::orders::{self, WRITE};
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub fn function() -> Function {
    Function::http("cancel-order")
        .idempotent_route(
            &Method::POST,
            "/v1/orders/{id}/cancel",
            cancel_order,
            Idempotency::Optional,
        )
        .publishes(&[OrderCancelled::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancel {
    reason: String,
    #[serde(default = "yes")]
    restock: bool,
}

fn yes() -> bool {
    true
}

async fn cancel_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(cancel): Json<Cancel>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = orders::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let mut outbox = Outbox::default();
    let visible = |location| principal.can_access_location(location);
    let view = lifecycle::cancel(
        &tx,
        actor(&principal),
        id,
        &visible,
        &cancel.reason,
        cancel.restock,
        &mut outbox,
    )
    .await?;
    lifecycle::finish(&state, tx, outbox, view).await
}
