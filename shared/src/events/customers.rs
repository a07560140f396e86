//! Events of the customer module (customers and loyalty), shared by producers and consumers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// A customer was added to the tenant's directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CustomerCreated {
    pub customer_id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub marketing_consent: bool,
    pub created_at: DateTime<Utc>,
}

impl Event for CustomerCreated {
    const TYPE: &'static str = "customer.customer.created";
}

/// A duplicate customer was merged into a survivor: its orders and points now belong to the
/// survivor, and the duplicate's id answers 410 with `merged_into`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CustomerMerged {
    pub survivor_id: Uuid,
    pub duplicate_id: Uuid,
    pub orders_moved: u64,
    pub ledger_entries_moved: u64,
    pub merged_at: DateTime<Utc>,
}

impl Event for CustomerMerged {
    const TYPE: &'static str = "customer.customer.merged";
}

/// A customer earned loyalty points on a paid order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoyaltyEarned {
    pub customer_id: Uuid,
    pub order_id: Uuid,
    pub ledger_entry_id: Uuid,
    pub points: i64,
    /// The customer's balance and lifetime points after this entry.
    pub balance: i64,
    pub lifetime_points: i64,
    /// The tier the multiplier came from (before this entry), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub earned_at: DateTime<Utc>,
}

impl Event for LoyaltyEarned {
    const TYPE: &'static str = "customer.loyalty.earned";
}
