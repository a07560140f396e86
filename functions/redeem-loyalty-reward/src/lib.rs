//! `redeem-loyalty-reward` — `POST /v1/customers/{id}/loyalty/redeem`: turns a customer's
//! points into a discount on an open order (needs `customers:write` and `orders:write`, and
//! access to the order's location; `Idempotency-Key` required, so a retry never debits twice).
//!
//! Body: `order_id`, `reward_id` (a reward of the tenant's program). In one transaction: the
//! reward's discount (fixed, or a percentage of the order) is added to the order's discounts as
//! "Reward: <name>", the order takes the customer if it had none and is re-priced, and the
//! reward's points are debited (ledger `redeem`, with the order and reward). Cancelling the
//! order later gives the points back. Answers 201 `{order, entry, balance, lifetime_points}`.
//!
//! Errors: 400 `idempotency_key_required`; 403 `permission_denied`; 404 `not_found` (customer
//! or order), `no_program`; 409 `program_inactive`, `insufficient_points` (with `balance`,
//! `points`), `order_not_open`, `order_has_payments`, `order_customer_mismatch`; 410
//! `customer_merged`; 422 `unknown_reward`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use olympus::auth::Principal;
use olympus::customers;
use olympus::db;
use olympus::http::{Idempotency, Json, Path};
use olympus::loyalty::{self, Entry, RewardDiscount};
use olympus::sales::amend::add_discount;
use olympus::sales::orders::{self, OrderView};
use olympus::sales::pricing::{Adjustment, Discount};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("redeem-loyalty-reward")
        .idempotent_route(
            &Method::POST,
            "/v1/customers/{id}/loyalty/redeem",
            redeem,
            Idempotency::Required,
        )
        .build()
}

#[derive(Debug, Deserialize)]
struct Redemption {
    order_id: Uuid,
    reward_id: String,
}

#[derive(Debug, Serialize)]
struct Redeemed {
    order: OrderView,
    entry: Entry,
    balance: i64,
    lifetime_points: i64,
}

/// The order discount a reward gives.
fn discount_of(discount: RewardDiscount, name: &str) -> Discount {
    let adjustment = match discount {
        RewardDiscount::Fixed { amount_minor } => Adjustment::Fixed { amount_minor },
        RewardDiscount::Percent { percent } => Adjustment::Percent { bps: percent * 100 },
    };
    Discount {
        adjustment,
        name: Some(format!("Reward: {name}")),
    }
}

async fn redeem(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Redemption>,
) -> Result<Response, Error> {
    principal.require(customers::WRITE)?;
    principal.require(orders::WRITE)?;
    let customer = customers::path_id(&id)?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let customer = customers::load_live(&tx, customer, true).await?;
    let program = loyalty::load_program(&tx, false)
        .await?
        .ok_or_else(loyalty::no_program)?
        .program;
    if !program.active {
        return Err(Error::conflict(
            "program_inactive",
            "The loyalty program is not active; no reward can be redeemed.",
        ));
    }
    let reward = program
        .reward(&body.reward_id)
        .ok_or_else(|| {
            Error::unprocessable(
                "unknown_reward",
                format!("The program has no reward {:?}.", body.reward_id),
            )
            .with_extension("field", "reward_id")
        })?
        .clone();
    let visible = |location| principal.can_access_location(location);
    let order = add_discount(
        &tx,
        tenant,
        body.order_id,
        &visible,
        customer.id,
        discount_of(reward.discount, &reward.name),
        Utc::now(),
    )
    .await?;
    let (entry, account) = loyalty::redeem(
        &tx,
        tenant,
        customer.id,
        Some(order.id),
        reward.points,
        Some(&reward.id),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Redeemed {
            order,
            entry,
            balance: account.balance,
            lifetime_points: account.lifetime_points,
        }),
    )
        .into_response())
}
