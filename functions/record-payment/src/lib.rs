//! `record-payment` — `POST /v1/orders/{id}/payments`: takes a payment for an order (needs
//! `payments:write` and access to the order's location; `Idempotency-Key` required, so a till
//! retrying after a lost answer never charges twice).
//!
//! Body: `tender` (`cash`, `card`, `gift_card`, `other`); `amount_minor` (default: what is
//! still due) or `line_ids` (a split by lines: their totals plus their share of the service
//! charge); `tendered_minor` for cash (the change is computed); `reference` (the processor's
//! reference, required for `card` and `gift_card`), `card_brand` and `card_last4` (required for
//! `card`), `note`, `created_at` (a payment a till took offline: at most 5 minutes ahead of the
//! server and not before the order's `ordered_at`; stored as the payment's time and sent as
//! `paid_at`, default now). Several payments may cover one order. Answers 201 with the payment
//! (`change_minor`, `refundable_minor`) and the order (`paid_minor`, `balance_minor`,
//! `payment_status`) under `order`.
//!
//! Errors: 400 `idempotency_key_required`; 403 `permission_denied`; 404 `not_found`; 409
//! `overpayment` (a non-cash tender above the balance, with `balance_minor`), `order_settled`,
//! `order_cancelled`, `line_already_paid`; 422 `invalid_amount`, `invalid_text`,
//! `tendered_not_cash`, `tendered_too_little`, `amount_and_lines`, `duplicate_line`,
//! `unknown_line`, `reference_required`, `card_brand_required`, `invalid_card_last4`,
//! `card_details_not_card`, `invalid_created_at` (with `field`, and `not_before` when too
//! early), `idempotency_key_reused`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.payment.recorded`, `sales.order.paid` (when the payments come to cover the total).

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::events::sales::{OrderPaid, PaymentRecorded};
use olympus::events::{Event, Outbox};
use olympus::http::{Idempotency, Json, Path};
use olympus::sales::lifecycle::actor;
use olympus::sales::orders::{self, OrderView};
use olympus::sales::payments::{self, PAYMENTS_WRITE, PaymentDraft, PaymentView};
use olympus::{AppState, Error, Function};
use serde::Serialize;

pub fn function() -> Function {
    Function::http("record-payment")
        .idempotent_route(
            &Method::POST,
            "/v1/orders/{id}/payments",
            record_payment,
            Idempotency::Required,
        )
        .publishes(&[PaymentRecorded::TYPE, OrderPaid::TYPE])
        .build()
}

/// The answer: the payment, and the order as it now stands.
#[derive(Serialize)]
struct Recorded {
    #[serde(flatten)]
    payment: PaymentView,
    order: OrderView,
}

async fn record_payment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(draft): Json<PaymentDraft>,
) -> Result<Response, Error> {
    principal.require(PAYMENTS_WRITE)?;
    let id = orders::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let mut outbox = Outbox::default();
    let visible = |location| principal.can_access_location(location);
    let (payment, order) =
        payments::record_payment(&tx, actor(&principal), id, &visible, &draft, &mut outbox).await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((StatusCode::CREATED, Json(Recorded { payment, order })).into_response())
}
