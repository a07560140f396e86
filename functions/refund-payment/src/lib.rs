//! `refund-payment` — `POST /v1/payments/{id}/refunds`: gives back part or all of a payment
//! (needs `refunds:write` and access to the order's location; `Idempotency-Key` required).
//!
//! Body: `reason` (required), `amount_minor` (default: everything of the payment not yet
//! refunded), `reference` (the processor's refund reference), `restock`: `[{line_id,
//! quantity}]`, lines of a placed or completed order whose stock goes back (inventory `return`
//! movements; a line never goes back twice), `created_at` (a refund given offline: at most 5
//! minutes ahead of the server and not before its payment; stored as the refund's time, sent as
//! `refunded_at` and dating the stock's return; default now). A payment may be refunded several
//! times, never above what it brought. Answers 201 with the refund, its `payment` and the
//! `order` (`refunded_minor`, `payment_status`).
//!
//! Errors: 400 `idempotency_key_required`; 403 `permission_denied`; 404 `not_found`; 409
//! `payment_fully_refunded`, `nothing_to_restock`; 422 `refund_exceeds_payment` (with
//! `refundable_minor`), `invalid_amount`, `invalid_text`, `invalid_quantity`, `duplicate_line`,
//! `unknown_line`, `line_not_tracked`, `restock_exceeds_line`, `invalid_created_at` (with
//! `field`, and `not_before` when too early), `idempotency_key_reused`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.order.refunded`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::events::sales::OrderRefunded;
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Json, Path};
use olympus::sales::lifecycle::actor;
use olympus::sales::orders::OrderView;
use olympus::sales::payments::{
    self, PaymentView, REFUNDS_WRITE, RefundDraft, RefundView, payment_not_found,
};
use olympus::{AppState, Error, Function};
use serde::Serialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("refund-payment")
        .idempotent_route(
            &Method::POST,
            "/v1/payments/{id}/refunds",
            refund_payment,
            Idempotency::Required,
        )
        .publishes(&[OrderRefunded::TYPE])
        .build()
}

/// The answer: the refund, its payment and the order as they now stand.
#[derive(Serialize)]
struct Refunded {
    #[serde(flatten)]
    refund: RefundView,
    payment: PaymentView,
    order: OrderView,
}

async fn refund_payment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(draft): Json<RefundDraft>,
) -> Result<Response, Error> {
    principal.require(REFUNDS_WRITE)?;
    let id = Uuid::try_parse(&id).map_err(|_| payment_not_found())?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let mut outbox = Outbox::default();
    let visible = |location| principal.can_access_location(location);
    let (refund, payment, order) =
        payments::record_refund(&tx, actor(&principal), id, &visible, &draft, &mut outbox).await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(Refunded {
            refund,
            payment,
            order,
        }),
    )
        .into_response())
}
