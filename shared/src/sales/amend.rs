//! Changing an open order (`PATCH /v1/orders/{id}`): its lines, discounts, service charge, tip,
//! note, table, party size or customer. Only while `open`, and only at the version the caller
//! saw (`If-Match`): two tills editing one table's order never silently overwrite each other.
//!
//! A change to anything that prices (lines, discounts, service charge, tip) re-prices the whole
//! order from the catalog now, exactly as `POST /v1/orders` would, and replaces its lines; a
//! change to the note, table, party size or customer alone keeps the prices as they are (a
//! product archived since does not block renaming the table). An order with money on it is not
//! re-priced (409 `order_has_payments`): its payments were taken against its total.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::orders::{self, OrderView, Status, insert_lines, json};
use super::pricing::{Adjustment, AppliedDiscount, Discount};
use super::quote::{self, LineDraft, OrderDraft};
use crate::catalog::modifiers::Pick;
use crate::catalog::patch::nullable;
use crate::db::Transaction;
use crate::error::Error;
use crate::http::versioning::version_mismatch;

/// The body of `PATCH /v1/orders/{id}`: absent fields stay, `null` clears a clearable one.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderPatch {
    /// The order's new lines, all of them (as in `POST /v1/orders`).
    #[serde(default)]
    pub lines: Option<Vec<LineDraft>>,
    #[serde(default)]
    pub discounts: Option<Vec<Discount>>,
    #[serde(default, deserialize_with = "nullable")]
    pub service_charge: Option<Option<Adjustment>>,
    #[serde(default)]
    pub tip_minor: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub note: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub table: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub party_size: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    pub customer_id: Option<Option<Uuid>>,
}

impl OrderPatch {
    /// Whether the patch changes what the order costs.
    pub fn reprices(&self) -> bool {
        self.lines.is_some()
            || self.discounts.is_some()
            || self.service_charge.is_some()
            || self.tip_minor.is_some()
    }
}

/// Reads a JSON column written by this module's own types.
fn stored<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|error| Error::internal(format!("stored order {what} unreadable: {error}")))
}

/// A chosen modifier as stored on a line (the pick, with what it resolved to).
#[derive(Deserialize)]
struct StoredPick {
    modifier_id: Uuid,
    quantity: u32,
}

fn discounts_of(applied: Value) -> Result<Vec<Discount>, Error> {
    let applied: Vec<AppliedDiscount> = stored(applied, "discounts")?;
    Ok(applied
        .into_iter()
        .map(|discount| Discount {
            adjustment: discount.adjustment,
            name: discount.name,
        })
        .collect())
}

/// The order as a till would send it now: stored fields, with `patch` applied.
fn draft_of(order: &OrderView, patch: OrderPatch) -> Result<OrderDraft, Error> {
    let lines = match patch.lines {
        Some(lines) => lines,
        None => order
            .lines
            .iter()
            .map(|line| {
                Ok(LineDraft {
                    variant_id: line.variant_id,
                    quantity: line.quantity,
                    modifiers: stored::<Vec<StoredPick>>(line.modifiers.clone(), "modifiers")?
                        .into_iter()
                        .map(|pick| Pick {
                            modifier_id: pick.modifier_id,
                            quantity: pick.quantity,
                        })
                        .collect(),
                    note: line.note.clone(),
                    discounts: discounts_of(line.discounts.clone())?,
                })
            })
            .collect::<Result<_, Error>>()?,
    };
    Ok(OrderDraft {
        location_id: order.location_id,
        channel: stored(Value::String(order.channel.clone()), "channel")?,
        source: stored(Value::String(order.source.clone()), "source")?,
        customer_id: patch.customer_id.unwrap_or(order.customer_id),
        table: patch.table.unwrap_or_else(|| order.table.clone()),
        party_size: patch.party_size.unwrap_or(order.party_size),
        lines,
        discounts: match patch.discounts {
            Some(discounts) => discounts,
            None => discounts_of(order.discounts.clone())?,
        },
        service_charge: match patch.service_charge {
            Some(charge) => charge,
            None => order
                .service_charge
                .clone()
                .map(|charge| stored(charge, "service charge"))
                .transpose()?,
        },
        tip_minor: patch.tip_minor.unwrap_or(order.tip_minor),
        note: patch.note.unwrap_or_else(|| order.note.clone()),
        created_at: None,
        client_order_id: None,
        place: false,
    })
}

/// Applies `patch` to open order `id` at version `expected` (any version when `None`: the
/// caller changes the order relative to what it is now); answers the order as it now is.
pub async fn amend(
    tx: &Transaction<'_>,
    tenant: Uuid,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    expected: Option<i32>,
    patch: OrderPatch,
    now: DateTime<Utc>,
) -> Result<OrderView, Error> {
    tx.execute(
        "SELECT 1 FROM sales.orders WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?;
    let order = orders::load(tx, id)
        .await?
        .filter(|order| visible(order.location_id))
        .ok_or_else(orders::not_found)?;
    if order.status != Status::Open {
        return Err(Error::conflict(
            "order_not_open",
            format!(
                "Only an open order can change; this one is {}.",
                order.status.as_str()
            ),
        )
        .with_extension("status", order.status.as_str()));
    }
    if let Some(expected) = expected
        && order.version != expected
    {
        return Err(version_mismatch("order", expected, order.version));
    }
    let reprices = patch.reprices();
    if reprices && order.paid_minor > order.refunded_minor {
        return Err(Error::conflict(
            "order_has_payments",
            "The order has payments; refund them before changing what it costs.",
        ));
    }
    let draft = draft_of(&order, patch)?;
    quote::check_draft(&draft)?;
    let table = draft.table.as_deref().map(str::trim);
    if reprices {
        let quote = quote::quote(tx, &draft, now).await?;
        tx.execute(
            "UPDATE sales.orders SET
                    discounts = $2, service_charge = $3, taxes = $4, subtotal_minor = $5,
                    discount_minor = $6, tax_minor = $7, tax_included_minor = $8,
                    service_charge_minor = $9, tip_minor = $10, total_minor = $11
             WHERE id = $1",
            &[
                &id,
                &json(&quote.discounts),
                &draft.service_charge.map(|charge| json(&charge)),
                &json(&quote.taxes),
                &quote.subtotal_minor,
                &quote.discount_minor,
                &quote.tax_minor,
                &quote.tax_included_minor,
                &quote.service_charge_minor,
                &quote.tip_minor,
                &quote.total_minor,
            ],
        )
        .await?;
        tx.execute("DELETE FROM sales.order_lines WHERE order_id = $1", &[&id])
            .await?;
        insert_lines(tx, tenant, id, &quote.lines).await?;
    }
    tx.execute(
        "UPDATE sales.orders SET note = $2, table_label = $3, party_size = $4, customer_id = $5,
                version = version + 1, updated_at = now()
         WHERE id = $1",
        &[
            &id,
            &draft.note,
            &table,
            &draft.party_size,
            &draft.customer_id,
        ],
    )
    .await?;
    orders::load(tx, id).await?.ok_or_else(orders::not_found)
}

/// Adds `discount` to open order `id` of `customer` (the order takes the customer when it has
/// none) and re-prices it: how a loyalty reward becomes an order discount. 409
/// `order_customer_mismatch` when the order is another customer's.
pub async fn add_discount(
    tx: &Transaction<'_>,
    tenant: Uuid,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    customer: Uuid,
    discount: Discount,
    now: DateTime<Utc>,
) -> Result<OrderView, Error> {
    tx.execute(
        "SELECT 1 FROM sales.orders WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?;
    let order = orders::load(tx, id)
        .await?
        .filter(|order| visible(order.location_id))
        .ok_or_else(orders::not_found)?;
    if order.customer_id.is_some_and(|other| other != customer) {
        return Err(Error::conflict(
            "order_customer_mismatch",
            "The order belongs to another customer.",
        ));
    }
    let mut discounts = discounts_of(order.discounts.clone())?;
    discounts.push(discount);
    let patch = OrderPatch {
        discounts: Some(discounts),
        customer_id: Some(Some(customer)),
        ..OrderPatch::default()
    };
    amend(tx, tenant, id, visible, None, patch, now).await
}
