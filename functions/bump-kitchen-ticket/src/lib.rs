//! `bump-kitchen-ticket` — `POST /v1/kitchen/tickets/{id}/bump`: the kitchen display's one
//! button (needs `kitchen:write`): a `pending` or `preparing` ticket becomes `ready`
//! (`ready_at` stamped) and `kitchen.ticket.ready` is recorded in the same transaction,
//! published after commit.
//!
//! No body. Answers 200 with the ticket (`status: ready`, `next_states`) and its `ETag`.
//! Honours `Idempotency-Key`.
//!
//! Errors: 403 `permission_denied`; 404 `not_found` (unknown, other tenant's, or at a location
//! the caller may not access); 409 `invalid_transition` (already ready, served or voided;
//! with `status` and `next_states`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `kitchen.ticket.ready`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use olympus::auth::Principal;
use olympus::db;
use olympus::events::kitchen::TicketReady;
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Path};
use olympus::kitchen::WRITE;
use olympus::kitchen::tickets::{self, Status};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("bump-kitchen-ticket")
        .idempotent_route(
            &Method::POST,
            "/v1/kitchen/tickets/{id}/bump",
            bump,
            Idempotency::Optional,
        )
        .publishes(&[TicketReady::TYPE])
        .build()
}

async fn bump(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = tickets::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let mut outbox = Outbox::default();
    let visible = |location| principal.can_access_location(location);
    let view = tickets::transition(
        &tx,
        principal.tenant_id,
        id,
        Status::Ready,
        &visible,
        &mut outbox,
    )
    .await?;
    tickets::finish(&state, tx, outbox, view).await
}
