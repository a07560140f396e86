//! `preview-order` — `POST /v1/orders/preview`: prices an order exactly as `POST /v1/orders`
//! would, without storing anything (what a till shows while the order is built; needs
//! `orders:write` and access to the location).
//!
//! Body: the order (`location_id`, `channel`, `source`, `lines` of `{variant_id, quantity,
//! modifiers: [{modifier_id, quantity}], note, discounts}`, `discounts`, `service_charge`,
//! `tip_minor`, optional `customer_id`, `table`, `party_size`, `note`, `created_at`). Prices
//! come from the catalog at the location as of `created_at` (default now); client prices are
//! ignored. Rules: `olympus::sales::pricing`. Answers 200 with the priced lines (gross,
//! discounts, net, taxes per rate, total) and the order's subtotal, discounts, taxes (and the
//! part included in prices), service charge, tip and total, in the location's currency.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `unknown_location`,
//! `location_inactive`, `unknown_variant`, `variant_unavailable`, `sold_out` and the modifier
//! codes (each with `line` and `field` such as `lines[2].modifiers`), `invalid_quantity`,
//! `invalid_percentage`, `invalid_amount`, `amount_too_large`, `too_many_lines`,
//! `too_many_discounts`, `invalid_note`, `invalid_table`, `invalid_party_size`,
//! `invalid_created_at`, `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use chrono::Utc;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::Json;
use olympus::sales::quote::{OrderDraft, Quote, quote};
use olympus::{AppState, Error, Function};

/// The permission to take orders.
const WRITE: &str = "orders:write";

pub fn function() -> Function {
    Function::http("preview-order")
        .route(&Method::POST, "/v1/orders/preview", preview_order)
        .build()
}

async fn preview_order(
    State(state): State<AppState>,
    principal: Principal,
    Json(draft): Json<OrderDraft>,
) -> Result<Json<Quote>, Error> {
    principal.require(WRITE)?;
    principal.require_location(draft.location_id)?;
    let mut client = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut client, principal.tenant_id).await?;
    let quote = quote(&tx, &draft, Utc::now()).await?;
    // Nothing was written; ending read-only work with a rollback or a commit is the same.
    tx.commit().await?;
    Ok(Json(quote))
}
