//! `list-order-payments` — `GET /v1/orders/{id}/payments`: an order's payments, oldest first,
//! each with its refunds and what is still refundable (needs `orders:read` and access to the
//! order's location).
//!
//! Answers 200 `{ "order_id", "currency", "total_minor", "paid_minor", "refunded_minor",
//! "balance_minor", "payment_status", "payments": [...] }`. An unknown, malformed or other
//! tenant's order is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{Json, Path};
use olympus::sales::orders::{self, PaymentStatus, READ};
use olympus::sales::payments::{self, PaymentView};
use olympus::{AppState, Error, Function};
use serde::Serialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("list-order-payments")
        .route(
            &Method::GET,
            "/v1/orders/{id}/payments",
            list_order_payments,
        )
        .build()
}

#[derive(Serialize)]
struct Payments {
    order_id: Uuid,
    currency: String,
    total_minor: i64,
    paid_minor: i64,
    refunded_minor: i64,
    balance_minor: i64,
    payment_status: PaymentStatus,
    payments: Vec<PaymentView>,
}

async fn list_order_payments(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Payments>, Error> {
    principal.require(READ)?;
    let id = orders::path_id(&id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let order = orders::load(&tx, id)
        .await?
        .filter(|order| principal.can_access_location(order.location_id))
        .ok_or_else(orders::not_found)?;
    let payments = payments::list_for_order(&tx, id).await?;
    tx.commit().await?;
    Ok(Json(Payments {
        order_id: order.id,
        currency: order.currency,
        total_minor: order.total_minor,
        paid_minor: order.paid_minor,
        refunded_minor: order.refunded_minor,
        balance_minor: order.balance_minor,
        payment_status: order.payment_status,
        payments,
    }))
}
