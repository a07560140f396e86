//! Events of the catalog and inventory modules, shared by producers and consumers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// A product was created (with its variants).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductCreated {
    pub product_id: Uuid,
    pub name: String,
    pub variant_ids: Vec<Uuid>,
    pub version: i32,
}

impl Event for ProductCreated {
    const TYPE: &'static str = "catalog.product.created";
}

/// A product or one of its variants changed; `changed` names the fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductUpdated {
    pub product_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<Uuid>,
    pub changed: Vec<String>,
    pub version: i32,
}

impl Event for ProductUpdated {
    const TYPE: &'static str = "catalog.product.updated";
}

/// A product was archived: no longer sold, still referenced by past orders.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductArchived {
    pub product_id: Uuid,
    pub version: i32,
}

impl Event for ProductArchived {
    const TYPE: &'static str = "catalog.product.archived";
}

/// A variant's price changed, everywhere (`location_id` null) or at one location's override.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PriceChanged {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<Uuid>,
    pub old_price_minor: Option<i64>,
    pub new_price_minor: Option<i64>,
}

impl Event for PriceChanged {
    const TYPE: &'static str = "catalog.price.changed";
}

/// One line of a stock event: a variant's movement at a location and its level after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StockLine {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub kind: String,
    pub quantity: i64,
    pub delta: i64,
    pub on_hand: i64,
}

/// Stock was received, wasted, adjusted, returned or counted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StockAdjusted {
    pub location_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub lines: Vec<StockLine>,
}

impl Event for StockAdjusted {
    const TYPE: &'static str = "inventory.stock.adjusted";
}

/// A variant's on-hand level at a location fell to or below its reorder point (once per
/// crossing: it fires again only after the level has risen above the point).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StockLow {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub on_hand: i64,
    pub reorder_point: i64,
    pub reorder_quantity: Option<i64>,
}

impl Event for StockLow {
    const TYPE: &'static str = "inventory.stock.low";
}

/// Stock moved between two locations (out and in, in one transaction).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransferCompleted {
    pub transfer_id: Uuid,
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub lines: Vec<TransferLine>,
}

/// A variant and quantity moved by a transfer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TransferLine {
    pub variant_id: Uuid,
    pub quantity: i64,
}

impl Event for TransferCompleted {
    const TYPE: &'static str = "inventory.transfer.completed";
}
