//! `on-order-paid-update-customer-stats` — consumes `sales.order.paid` (push endpoint
//! `/events/on-order-paid-update-customer-stats`).
//!
//! Counts the paid order in its customer's statistics: order count + 1, lifetime spend +
//! the order's total, first and last order times (the till's `ordered_at`). Idempotent per
//! order, not only per delivery: `customer.order_stats` holds one row per counted order, so a
//! redelivery, a republished event or a second subscription never counts it twice. An order
//! of a merged customer counts for the survivor. No customer, or an unknown one: acked,
//! nothing done.
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::Function;
use olympus::customers;
use olympus::events::sales::OrderPaid;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};

pub fn function() -> Function {
    Function::on_event("on-order-paid-update-customer-stats", UpdateStats)
}

/// Counts the order.
#[derive(Debug)]
pub struct UpdateStats;

impl EventHandler for UpdateStats {
    type Event = OrderPaid;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: OrderPaid,
    ) -> Result<(), EventError> {
        let Some(tenant) = envelope.tenant_id else {
            return Err(EventError::permanent("sales.order.paid without a tenant"));
        };
        match customers::record_paid_order(&ctx.tx, tenant, &event).await? {
            Some(customer) => tracing::info!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                customer_id = %customer,
                "order counted in the customer's statistics"
            ),
            None => tracing::debug!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                "no customer to count, or already counted"
            ),
        }
        Ok(())
    }
}
