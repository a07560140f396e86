//! The order state machine: `open` → `placed` → `completed`, and `cancelled` from `open` or
//! `placed`. Each move locks the order row, checks the move (409 `invalid_transition` naming
//! the allowed next states), makes its side effects in the same transaction and records its
//! event in the outbox.
//!
//! Placing sells the tracked lines' stock through `olympus::inventory::record` (one ordered
//! lock and one conditional UPDATE, so concurrent orders for the last units never oversell:
//! the loser gets 409 `insufficient_stock` and its order stays open). Cancelling a placed order
//! returns that stock unless the caller says it was consumed (`restock: false`, e.g. the food
//! was already made).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::orders::{self, OrderView, Status};
use super::quote::Quote;
use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::Outbox;
use crate::events::sales::{OrderCancelled, OrderCompleted, OrderPlaced};
use crate::inventory::{self, Context, Kind, Movement, Reference};

/// Longest cancellation reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Who asks for a move, as the ledger and the checks need it.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub tenant: Uuid,
    /// The user, for the stock ledger (`None` for API keys).
    pub user: Option<Uuid>,
}

struct Locked {
    location_id: Uuid,
    status: Status,
    ordered_at: DateTime<Utc>,
    paid_minor: i64,
    refunded_minor: i64,
}

/// Locks the order for the rest of `tx`; 404 when absent or at a location `visible` refuses.
async fn lock(
    tx: &Transaction<'_>,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
) -> Result<Locked, Error> {
    let row = tx
        .query_opt_cached(
            "SELECT location_id, status, ordered_at, paid_minor, refunded_minor
             FROM sales.orders WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(orders::not_found)?;
    let location_id: Uuid = row.try_get("location_id")?;
    if !visible(location_id) {
        return Err(orders::not_found());
    }
    Ok(Locked {
        location_id,
        status: Status::parse(row.try_get("status")?)?,
        ordered_at: row.try_get("ordered_at")?,
        paid_minor: row.try_get("paid_minor")?,
        refunded_minor: row.try_get("refunded_minor")?,
    })
}

impl crate::transitions::StateMachine for Status {
    const RESOURCE: &'static str = "An order";

    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }

    fn next_states(self) -> &'static [Self] {
        Status::next_states(self)
    }
}

/// 409 `invalid_transition` unless `to` is a next state of `from` (with `status` and
/// `next_states`; see [`crate::transitions`]).
pub fn check_transition(from: Status, to: Status) -> Result<(), Error> {
    crate::transitions::check(from, to)
}

/// The order's line count and the stock movements of `kind` of its tracked lines.
async fn movements(
    tx: &Transaction<'_>,
    id: Uuid,
    location_id: Uuid,
    kind: Kind,
    occurred_at: DateTime<Utc>,
    reason: Option<&str>,
) -> Result<(usize, Vec<Movement>), Error> {
    let rows = tx
        .query_cached(
            // Stock a refund already returned is not returned again.
            "SELECT variant_id, quantity - restocked_quantity AS quantity, track_inventory
             FROM sales.order_lines WHERE order_id = $1 ORDER BY position",
            &[&id],
        )
        .await?;
    let mut tracked = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get("track_inventory")? && row.try_get::<_, i64>("quantity")? > 0 {
            tracked.push(row);
        }
    }
    let movements = tracked
        .into_iter()
        .map(|row| {
            Ok(Movement {
                variant_id: row.try_get("variant_id")?,
                location_id,
                kind,
                quantity: row.try_get("quantity")?,
                reason: reason.map(str::to_owned),
                occurred_at,
                reference: Some(Reference {
                    kind: "order".to_owned(),
                    id: id.to_string(),
                }),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((rows.len(), movements))
}

async fn set_status(
    tx: &Transaction<'_>,
    id: Uuid,
    to: Status,
    reason: Option<&str>,
) -> Result<OrderView, Error> {
    tx.execute_cached(
        "UPDATE sales.orders SET status = $2, version = version + 1, updated_at = now(),
                placed_at = CASE WHEN $2 = 'placed' THEN now() ELSE placed_at END,
                completed_at = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END,
                cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END,
                cancel_reason = coalesce($3, cancel_reason)
         WHERE id = $1",
        &[&id, &to.as_str(), &reason],
    )
    .await?;
    orders::load(tx, id).await?.ok_or_else(orders::not_found)
}

/// `open` → `placed`: sells the stock and records `sales.order.placed`. An order without
/// lines is refused (409 `order_empty`).
pub async fn place(
    tx: &Transaction<'_>,
    actor: Actor,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    outbox: &mut Outbox,
) -> Result<OrderView, Error> {
    let order = lock(tx, id, visible).await?;
    check_transition(order.status, Status::Placed)?;
    let (lines, sales) = movements(
        tx,
        id,
        order.location_id,
        Kind::Sale,
        order.ordered_at,
        None,
    )
    .await?;
    if lines == 0 {
        return Err(order_empty());
    }
    let view = set_status(tx, id, Status::Placed, None).await?;
    send(tx, actor, &view, &sales, false, outbox).await?;
    Ok(view)
}

/// The effects of placing `view`, an order [`orders::create`] stored as `placed` from a
/// till that sends it at once (`"place": true`): as [`place`], with the lines as priced.
pub async fn send_created(
    tx: &Transaction<'_>,
    actor: Actor,
    view: &OrderView,
    quote: &Quote,
    outbox: &mut Outbox,
) -> Result<(), Error> {
    if view.lines.is_empty() {
        return Err(order_empty());
    }
    let sales: Vec<Movement> = quote
        .lines
        .iter()
        .filter(|line| line.track_inventory && line.priced.quantity > 0)
        .map(|line| Movement {
            variant_id: line.variant_id,
            location_id: view.location_id,
            kind: Kind::Sale,
            quantity: line.priced.quantity,
            reason: None,
            occurred_at: view.ordered_at,
            reference: Some(Reference {
                kind: "order".to_owned(),
                id: view.id.to_string(),
            }),
        })
        .collect();
    send(tx, actor, view, &sales, true, outbox).await
}

fn order_empty() -> Error {
    // An open order may start empty (a table sat down); sending nothing is a mistake.
    Error::conflict(
        "order_empty",
        "The order has no lines; add lines before placing it.",
    )
}

/// Kitchen tickets, `sales.order.placed`, and the stock sold, of the placed order `view`;
/// `just_priced`: its lines' variants were read in this transaction.
async fn send(
    tx: &Transaction<'_>,
    actor: Actor,
    view: &OrderView,
    sales: &[Movement],
    just_priced: bool,
    outbox: &mut Outbox,
) -> Result<(), Error> {
    crate::kitchen::tickets::create_tickets_for_order(tx, actor.tenant, view.id, outbox).await?;
    outbox
        .record(
            tx,
            Some(actor.tenant),
            &OrderPlaced {
                order_id: view.id,
                location_id: view.location_id,
                number: view.number.clone(),
                total_minor: view.total_minor,
                placed_at: view.placed_at.unwrap_or_else(Utc::now),
            },
        )
        .await?;
    // Stock last: its rows are shared by every order at the location that sells the same
    // items, and their locks last until commit. A shortage still undoes all of the above.
    if !sales.is_empty() {
        let context = Context {
            actor: actor.user,
            consumes: None,
        };
        if just_priced {
            inventory::record_priced_sales(tx, actor.tenant, sales, context, outbox).await?;
        } else {
            inventory::record(tx, actor.tenant, sales, context, outbox).await?;
        }
    }
    Ok(())
}

/// `placed` → `completed`: records `sales.order.completed`.
pub async fn complete(
    tx: &Transaction<'_>,
    actor: Actor,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    outbox: &mut Outbox,
) -> Result<OrderView, Error> {
    let order = lock(tx, id, visible).await?;
    check_transition(order.status, Status::Completed)?;
    let view = set_status(tx, id, Status::Completed, None).await?;
    outbox
        .record(
            tx,
            Some(actor.tenant),
            &OrderCompleted {
                order_id: view.id,
                location_id: view.location_id,
                total_minor: view.total_minor,
                completed_at: view.completed_at.unwrap_or_else(Utc::now),
            },
        )
        .await?;
    Ok(view)
}

/// `open` or `placed` → `cancelled` with a reason. A placed order's stock goes back
/// (`return` movements) unless `restock` is false. An order with money on it must be refunded
/// first (409 `order_has_payments`).
pub async fn cancel(
    tx: &Transaction<'_>,
    actor: Actor,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    reason: &str,
    restock: bool,
    outbox: &mut Outbox,
) -> Result<OrderView, Error> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::unprocessable(
            "invalid_reason",
            format!("`reason` must be 1 to {MAX_REASON_CHARS} characters."),
        )
        .with_extension("field", "reason"));
    }
    let order = lock(tx, id, visible).await?;
    check_transition(order.status, Status::Cancelled)?;
    if order.paid_minor > order.refunded_minor {
        return Err(Error::conflict(
            "order_has_payments",
            "The order has payments that are not refunded; refund them before cancelling.",
        ));
    }
    let restocked = restock && order.status == Status::Placed;
    if restocked {
        let (_, returns) = movements(
            tx,
            id,
            order.location_id,
            Kind::Return,
            Utc::now(),
            Some("order cancelled"),
        )
        .await?;
        if !returns.is_empty() {
            let context = Context {
                actor: actor.user,
                consumes: None,
            };
            inventory::record(tx, actor.tenant, &returns, context, outbox).await?;
        }
        tx.execute_cached(
            "UPDATE sales.order_lines SET restocked_quantity = quantity
             WHERE order_id = $1 AND track_inventory",
            &[&id],
        )
        .await?;
    }
    crate::kitchen::tickets::void_tickets_for_order(tx, id).await?;
    crate::loyalty::return_redeemed_points(tx, actor.tenant, id).await?;
    let view = set_status(tx, id, Status::Cancelled, Some(reason)).await?;
    outbox
        .record(
            tx,
            Some(actor.tenant),
            &OrderCancelled {
                order_id: view.id,
                location_id: view.location_id,
                reason: reason.to_owned(),
                restocked,
                cancelled_at: view.cancelled_at.unwrap_or_else(Utc::now),
            },
        )
        .await?;
    Ok(view)
}

/// The common ending of a move: commit, publish the events, answer the order with its `ETag`.
pub async fn finish(
    state: &crate::state::AppState,
    tx: Transaction<'_>,
    outbox: Outbox,
    view: OrderView,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    tx.commit().await?;
    outbox.publish(state).await;
    Ok((
        [(
            axum::http::header::ETAG,
            crate::http::versioning::etag(view.version),
        )],
        crate::http::Json(view),
    )
        .into_response())
}

/// The actor of `principal`'s moves.
pub fn actor(principal: &crate::auth::Principal) -> Actor {
    Actor {
        tenant: principal.tenant_id,
        user: inventory::api::actor(principal),
    }
}
