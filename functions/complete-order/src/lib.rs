//! `complete-order` — `POST /v1/orders/{id}/complete`: closes a placed order (handed over,
//! table closed; needs `orders:write`).
//!
//! Answers 200 with the order (`status: completed`, `completed_at`, no `next_states`) and its
//! `ETag`. Honours `Idempotency-Key`.
//!
//! Errors: 403 `permission_denied`; 404 `not_found`; 409 `invalid_transition` (with `status`
//! and `next_states`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.order.completed`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use olympus::auth::Principal;
use olympus::db;
use olympus::events::sales::OrderCompleted;
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Path};
use olympus::sales::lifecycle::{self, actor};
use olympus::sales::orders::{self, WRITE};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("complete-order")
        .idempotent_route(
            &Method::POST,
            "/v1/orders/{id}/complete",
            complete_order,
            Idempotency::Optional,
        )
        .publishes(&[OrderCompleted::TYPE])
        .build()
}

async fn complete_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = orders::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let mut outbox = Outbox::default();
    let visible = |location| principal.can_access_location(location);
    let view = lifecycle::complete(&tx, actor(&principal), id, &visible, &mut outbox).await?;
    lifecycle::finish(&state, tx, outbox, view).await
}
