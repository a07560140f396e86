//! Events of the sales module (orders, payments, refunds), shared by producers and consumers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// An order was taken (status `open`), priced by the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub number: String,
    pub channel: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    pub currency: String,
    pub total_minor: i64,
    /// The till's clock when the order was taken (reporting uses it).
    pub ordered_at: DateTime<Utc>,
}

impl Event for OrderCreated {
    const TYPE: &'static str = "sales.order.created";
}

/// An order was placed: its stock is decremented and the kitchen may start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderPlaced {
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub number: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
}

impl Event for OrderPlaced {
    const TYPE: &'static str = "sales.order.placed";
}

/// An order was completed (handed over, table closed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderCompleted {
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub total_minor: i64,
    pub completed_at: DateTime<Utc>,
}

impl Event for OrderCompleted {
    const TYPE: &'static str = "sales.order.completed";
}

/// An order was cancelled; `restocked` tells whether its sold stock went back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub reason: String,
    pub restocked: bool,
    pub cancelled_at: DateTime<Utc>,
}

impl Event for OrderCancelled {
    const TYPE: &'static str = "sales.order.cancelled";
}

/// A payment was recorded against an order (cash, card, gift card or other).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PaymentRecorded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    /// `cash`, `card`, `gift_card` or `other`.
    pub tender: String,
    /// What the payment put towards the order (cash change excluded).
    pub amount_minor: i64,
    /// Cash handed back; 0 for other tenders.
    pub change_minor: i64,
    pub currency: String,
    pub recorded_at: DateTime<Utc>,
}

impl Event for PaymentRecorded {
    const TYPE: &'static str = "sales.payment.recorded";
}

/// An order's payments came to cover its total (once per order, when the balance reaches 0).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderPaid {
    pub order_id: Uuid,
    pub location_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    pub currency: String,
    /// Lines before discounts.
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    /// Exclusive taxes added on top (inclusive taxes are inside the lines).
    pub tax_minor: i64,
    pub service_charge_minor: i64,
    pub tip_minor: i64,
    pub total_minor: i64,
    /// Paid so far, net of refunds (≥ `total_minor`).
    pub paid_minor: i64,
    /// The till's clock when the order was taken, and its business day.
    pub ordered_at: DateTime<Utc>,
    pub business_date: chrono::NaiveDate,
    pub paid_at: DateTime<Utc>,
}

impl Event for OrderPaid {
    const TYPE: &'static str = "sales.order.paid";
}

/// Money went back to the customer on one of an order's payments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderRefunded {
    pub refund_id: Uuid,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<Uuid>,
    pub currency: String,
    /// This refund.
    pub amount_minor: i64,
    /// The order after this refund: its total, everything paid and everything refunded.
    pub order_total_minor: i64,
    pub order_paid_minor: i64,
    pub order_refunded_minor: i64,
    pub refunded_at: DateTime<Utc>,
}

impl Event for OrderRefunded {
    const TYPE: &'static str = "sales.order.refunded";
}
