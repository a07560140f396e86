//! `on-order-refunded-update-customer-stats` — consumes `sales.order.refunded` (push endpoint
//! `/events/on-order-refunded-update-customer-stats`).
//!
//! Takes what the order's refunds gave back off its customer's lifetime spend (the order stays
//! in the order count; the average follows). Idempotent: the order's cumulative refunded
//! amount is kept on its `customer.order_stats` row and only an increase is applied, so
//! redeliveries, republished events and refunds arriving out of order add up to the order's
//! total refunded, never more than the order counted. An order that was never counted (no
//! customer, or its `sales.order.paid` not processed yet): acked, nothing done.
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::Function;
use olympus::customers;
use olympus::events::sales::OrderRefunded;
use olympus::events::{Envelope, EventContext, EventError, EventHandler};

pub fn function() -> Function {
    Function::on_event("on-order-refunded-update-customer-stats", RefundStats)
}

/// Takes the refund off the customer's spend.
#[derive(Debug)]
pub struct RefundStats;

impl EventHandler for RefundStats {
    type Event = OrderRefunded;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: OrderRefunded,
    ) -> Result<(), EventError> {
        match customers::record_refund(&ctx.tx, &event).await? {
            Some(customer) => tracing::info!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                customer_id = %customer,
                "refund taken off the customer's lifetime spend"
            ),
            None => tracing::debug!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                "no counted order, or the refund was already applied"
            ),
        }
        Ok(())
    }
}
