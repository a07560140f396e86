//! `get-customer-loyalty` — `GET /v1/customers/{id}/loyalty?limit=&cursor=`: a customer's
//! points (needs `customers:read`).
//!
//! Answers `{customer_id, balance, lifetime_points, tier, next_tier, program_active,
//! history: {items, next_cursor}}`: `balance` is the sum of the customer's ledger (it may be
//! negative after a refund clawed back points already redeemed), `lifetime_points` the points
//! earned net of refund claw-backs, `tier` the program tier they reach (`{name, threshold,
//! multiplier}` or null), `next_tier` the one after it (or null), and `history` the ledger
//! entries (`earn`, `redeem`, `adjust`, `expire`; with `order_id`, `refund_id`, `reward_id`,
//! `reason`, `expires_at`), newest first; `limit` 1..=100 (default 25; else 422
//! `invalid_limit`).
//!
//! Errors: 404 (unknown id); 410 `customer_merged` (with `merged_into`); 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::customers::{self, READ};
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Path, Query};
use olympus::loyalty::{self, Entry, TierView};
use olympus::{AppState, Error, Function};
use serde::Serialize;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("get-customer-loyalty")
        .route(&Method::GET, "/v1/customers/{id}/loyalty", get_loyalty)
        .build()
}

#[derive(Debug, Serialize)]
struct LoyaltyView {
    customer_id: Uuid,
    balance: i64,
    lifetime_points: i64,
    tier: Option<TierView>,
    next_tier: Option<TierView>,
    program_active: bool,
    history: Page<Entry>,
}

async fn get_loyalty(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<LoyaltyView>, Error> {
    principal.require(READ)?;
    let id = customers::path_id(&id)?;
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let customer = customers::load_live(&tx, id, false).await?;
    let account = loyalty::account(&tx, tenant, customer.id, false).await?;
    let program = loyalty::load_program(&tx, false).await?;
    let history = loyalty::history(&tx, customer.id, page.cursor, fetch_limit(limit)).await?;
    tx.commit().await?;
    let program = program.map(|stored| stored.program);
    Ok(Json(LoyaltyView {
        customer_id: customer.id,
        balance: account.balance,
        lifetime_points: account.lifetime_points,
        tier: program
            .as_ref()
            .and_then(|p| p.tier(account.lifetime_points))
            .map(TierView::from),
        next_tier: program
            .as_ref()
            .and_then(|p| p.next_tier(account.lifetime_points))
            .map(TierView::from),
        program_active: program.as_ref().is_some_and(|p| p.active),
        history: Page::from_items(history, limit, |e| e.id),
    }))
}
