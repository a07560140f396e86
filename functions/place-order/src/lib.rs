//! `place-order` — `POST /v1/orders/{id}/place`: sends an open order (needs `orders:write`):
//! its tracked lines' stock is sold in the same transaction, so the last units are never sold
//! twice.
//!
//! Answers 200 with the order (`status: placed`, `placed_at`, `next_states`) and its `ETag`.
//! Honours `Idempotency-Key`.
//!
//! Errors: 403 `permission_denied`; 404 `not_found` (unknown, other tenant's, or at a location
//! the caller may not access); 409 `invalid_transition` (with `status` and `next_states`),
//! `insufficient_stock` (with `shortages`; the order stays open), `order_empty`.
//!
//! Placing also creates the order's kitchen tickets, one per station of its location
//! (`olympus::kitchen`; none when the location has no stations).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.order.placed`, `inventory.stock.low` (a variant crossing its reorder point),
//! `kitchen.ticket.created` (one per ticket).

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use olympus::auth::Principal;
use olympus::db;
use olympus::events::catalog::StockLow;
use olympus::events::kitchen::TicketCreated;
use olympus::events::sales::OrderPlaced;
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Path};
use olympus::sales::lifecycle::{self, actor};
use olympus::sales::orders::{self, WRITE};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("place-order")
        .idempotent_route(
            &Method::POST,
            "/v1/orders/{id}/place",
            place_order,
            Idempotency::Optional,
        )
        .publishes(&[OrderPlaced::TYPE, StockLow::TYPE, TicketCreated::TYPE])
        .build()
}

async fn place_order(
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
    let view = lifecycle::place(&tx, actor(&principal), id, &visible, &mut outbox).await?;
    lifecycle::finish(&state, tx, outbox, view).await
}
