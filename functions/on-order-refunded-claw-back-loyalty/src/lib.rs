//! `on-order-refunded-claw-back-loyalty` — consumes `sales.order.refunded` (push endpoint
//! `/events/on-order-refunded-claw-back-loyalty`).
//!
//! Claws back the points the order earned in proportion to what was refunded: in all,
//! round(earned × refunded / paid) of the order's cumulative figures, never more than it
//! earned, as one `adjust` entry per refund (the ledger's unique refund index makes a
//! redelivery a no-op). The points come off whoever holds the order's earn entry (the survivor
//! after a merge); the balance may go below zero when they were already redeemed. An order
//! that earned nothing: acked, nothing done.
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::Function;
use olympus::events::sales::OrderRefunded;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};
use olympus::loyalty;

pub fn function() -> Function {
    Function::on_event("on-order-refunded-claw-back-loyalty", ClawBack)
}

/// Claws the points back.
#[derive(Debug)]
pub struct ClawBack;

impl EventHandler for ClawBack {
    type Event = OrderRefunded;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: OrderRefunded,
    ) -> Result<(), EventError> {
        let Some(tenant) = envelope.tenant_id else {
            return Err(EventError::permanent(
                "sales.order.refunded without a tenant",
            ));
        };
        match loyalty::claw_back(&ctx.tx, tenant, &event).await? {
            Some((entry, account)) => tracing::info!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                refund_id = %event.refund_id,
                points = entry.points,
                balance = account.balance,
                "loyalty points clawed back"
            ),
            None => tracing::debug!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                "nothing to claw back"
            ),
        }
        Ok(())
    }
}
