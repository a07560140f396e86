//! Events of the kitchen module (tickets), shared by producers and consumers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// Placing an order created a ticket for one of its location's stations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TicketCreated {
    pub ticket_id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub station_id: Uuid,
    /// The order's number (`A-042`).
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// How many items (order lines) the ticket holds.
    pub items: usize,
    pub created_at: DateTime<Utc>,
}

impl Event for TicketCreated {
    const TYPE: &'static str = "kitchen.ticket.created";
}

/// A ticket is ready at the pass: call the number, run it to the table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TicketReady {
    pub ticket_id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub station_id: Uuid,
    /// The order's number (`A-042`).
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub ready_at: DateTime<Utc>,
}

impl Event for TicketReady {
    const TYPE: &'static str = "kitchen.ticket.ready";
}
