//! `set-kitchen-ticket-status` — `POST /v1/kitchen/tickets/{id}/status`: moves a kitchen
//! ticket (needs `kitchen:write`): `pending` → `preparing` → `ready` → `served`, `pending` →
//! `ready` (what the bump does), and `voided` from `pending`, `preparing` or `ready`.
//!
//! Body: `{"status": "preparing"}`. Each state stamps its time (`started_at`, `ready_at`,
//! `served_at`, `voided_at`). Becoming `ready` records `kitchen.ticket.ready` in the same
//! transaction, published after commit. Answers 200 with the ticket (with `next_states`) and
//! its `ETag`. Honours `Idempotency-Key`.
//!
//! Errors: 403 `permission_denied`; 404 `not_found` (unknown, other tenant's, or at a location
//! the caller may not access); 409 `invalid_transition` (with `status` and `next_states`);
//! 422 `invalid_body` (an unknown status).
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
use olympus::http::{Idempotency, Json, Path};
use olympus::kitchen::WRITE;
use olympus::kitchen::tickets::{self, Status};
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub fn function() -> Function {
    Function::http("set-kitchen-ticket-status")
        .idempotent_route(
            &Method::POST,
            "/v1/kitchen/tickets/{id}/status",
            set_status,
            Idempotency::Optional,
        )
        .publishes(&[TicketReady::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    status: Status,
}

async fn set_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Move>,
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
        body.status,
        &visible,
        &mut outbox,
    )
    .await?;
    tickets::finish(&state, tx, outbox, view).await
}
