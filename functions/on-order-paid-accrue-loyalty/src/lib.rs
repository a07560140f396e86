//! `on-order-paid-accrue-loyalty` — consumes `sales.order.paid` (push endpoint
//! `/events/on-order-paid-accrue-loyalty`).
//!
//! Earns the order's customer loyalty points on its net sales (subtotal − discounts; taxes,
//! service charge and tip earn nothing): net in currency units × the program's
//! `points_per_unit` × the multiplier of the tier the customer had reached, rounded per the
//! program, expiring after the program's `points_expire_days` if set. Exactly once per order:
//! the ledger's unique earn-per-order index makes a redelivery (or a second subscription) a
//! no-op. No customer, an unknown customer, no active program or nothing to earn: acked,
//! nothing done. An order of a merged customer earns for the survivor.
//!
//! Env: `DATABASE_URL`. Emits: `customer.loyalty.earned`.

use olympus::Function;
use olympus::events::customers::LoyaltyEarned;
use olympus::events::sales::OrderPaid;
use olympus::events::{Envelope, Event as _, EventContext, EventError, EventHandler};
use olympus::loyalty;

pub fn function() -> Function {
    Function::on_event("on-order-paid-accrue-loyalty", Accrue).publishes(&[LoyaltyEarned::TYPE])
}

/// Earns the points.
#[derive(Debug)]
pub struct Accrue;

impl EventHandler for Accrue {
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
        let Some(earned) = loyalty::earn(&ctx.tx, tenant, &event).await? else {
            tracing::debug!(
                event_id = %envelope.id,
                order_id = %event.order_id,
                "nothing to earn (no customer or program, or already earned)"
            );
            return Ok(());
        };
        tracing::info!(
            event_id = %envelope.id,
            order_id = %event.order_id,
            customer_id = %earned.customer_id,
            points = earned.points,
            "loyalty points earned"
        );
        ctx.outbox.record(&ctx.tx, Some(tenant), &earned).await?;
        Ok(())
    }
}
