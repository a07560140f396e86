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
