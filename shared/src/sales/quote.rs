//! An order as a till sends it ([`OrderDraft`]) priced from the catalog at its location
//! ([`quote`]): what `POST /v1/orders/preview` answers and what `POST /v1/orders` stores.
//! Prices, modifier deltas and tax rates all come from the catalog; any price a client sends
//! (`unit_price_minor`, totals) is not even read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::pricing::{self, Adjustment, Discount, LineInput, OrderInput, PricedLine, Rate};
use crate::catalog::TaxRateView;
use crate::catalog::modifiers::{ChosenModifier, Pick};
use crate::catalog::pricing::{ResolvedItem, resolve_items, tax_rates};
use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;

/// Most lines one order may carry.
pub const MAX_LINES: usize = 500;
/// Most discounts on one line or on the order.
pub const MAX_DISCOUNTS: usize = 20;
/// Longest line or order note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// How far ahead of the server a till's clock may be.
pub const MAX_CLOCK_AHEAD_MINUTES: i64 = 5;

/// How the order reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    DineIn,
    Takeout,
    Delivery,
    Pickup,
    Online,
}

/// Where the order was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Pos,
    Online,
    Kiosk,
    Phone,
}

/// One line as a client sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct LineDraft {
    pub variant_id: Uuid,
    pub quantity: i64,
    #[serde(default)]
    pub modifiers: Vec<Pick>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub discounts: Vec<Discount>,
}

/// An order as a client sends it (the body of `POST /v1/orders` and its preview).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderDraft {
    pub location_id: Uuid,
    pub channel: Channel,
    pub source: Source,
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub party_size: Option<i32>,
    pub lines: Vec<LineDraft>,
    #[serde(default)]
    pub discounts: Vec<Discount>,
    #[serde(default)]
    pub service_charge: Option<Adjustment>,
    #[serde(default)]
    pub tip_minor: i64,
    #[serde(default)]
    pub note: Option<String>,
    /// The till's own clock for an order taken offline; prices and availability are those of
    /// this moment. Absent: now.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The till's own id for the order (1 to 100 characters, unique per tenant): a replay with
    /// it answers the order already taken, however long the till was offline.
    #[serde(default)]
    pub client_order_id: Option<String>,
    /// Place the order as it is created, in the same transaction (a counter sale sent
    /// straight to the kitchen): one request, and never an open order left behind by a failed
    /// place. Ignored by the preview.
    #[serde(default)]
    pub place: bool,
}

/// A priced line with what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotedLine {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub variant_name: String,
    pub category_id: Option<Uuid>,
    pub sku: Option<String>,
    pub tax_category: String,
    pub modifiers: Vec<ChosenModifier>,
    pub note: Option<String>,
    #[serde(skip)]
    pub track_inventory: bool,
    #[serde(skip)]
    pub cost_minor: Option<i64>,
    pub base_price_minor: i64,
    #[serde(flatten)]
    pub priced: PricedLine,
}

/// A priced order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub location_id: Uuid,
    pub currency: String,
    pub priced_at: DateTime<Utc>,
    pub lines: Vec<QuotedLine>,
    pub discounts: Vec<pricing::AppliedDiscount>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub tax_included_minor: i64,
    pub service_charge_minor: i64,
    pub tip_minor: i64,
    pub total_minor: i64,
    pub taxes: Vec<pricing::TaxAmount>,
}

fn invalid(code: &'static str, field: &str, detail: String) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

fn check_note(note: Option<&String>, field: &str) -> Result<(), Error> {
    match note {
        Some(note) if note.chars().count() > MAX_NOTE_CHARS => Err(invalid(
            "invalid_note",
            field,
            format!("`{field}` is longer than {MAX_NOTE_CHARS} characters."),
        )),
        _ => Ok(()),
    }
}

/// Shape checks that need no database (422 naming the field).
pub fn check_draft(draft: &OrderDraft) -> Result<(), Error> {
    if draft.lines.len() > MAX_LINES {
        return Err(invalid(
            "too_many_lines",
            "lines",
            format!("An order has at most {MAX_LINES} lines."),
        ));
    }
    if draft.discounts.len() > MAX_DISCOUNTS {
        return Err(invalid(
            "too_many_discounts",
            "discounts",
            format!("An order has at most {MAX_DISCOUNTS} discounts."),
        ));
    }
    for (i, line) in draft.lines.iter().enumerate() {
        if line.discounts.len() > MAX_DISCOUNTS {
            return Err(invalid(
                "too_many_discounts",
                &format!("lines[{i}].discounts"),
                format!("A line has at most {MAX_DISCOUNTS} discounts."),
            ));
        }
        check_note(line.note.as_ref(), &format!("lines[{i}].note"))?;
    }
    check_note(draft.note.as_ref(), "note")?;
    if let Some(id) = &draft.client_order_id
        && !(1..=100).contains(&id.chars().count())
    {
        return Err(invalid(
            "invalid_client_order_id",
            "client_order_id",
            "`client_order_id` must be 1 to 100 characters.".to_owned(),
        ));
    }
    if let Some(table) = &draft.table
        && (table.trim().is_empty() || table.chars().count() > 40)
    {
        return Err(invalid(
            "invalid_table",
            "table",
            "`table` must be 1 to 40 characters.".to_owned(),
        ));
    }
    if let Some(party) = draft.party_size
        && !(1..=500).contains(&party)
    {
        return Err(invalid(
            "invalid_party_size",
            "party_size",
            "`party_size` must be between 1 and 500.".to_owned(),
        ));
    }
    Ok(())
}

/// Re-points a catalog error at the order line it came from (`variant_id` ->
/// `lines[3].variant_id`).
fn on_line(error: Error, index: usize) -> Error {
    let field = error
        .problem()
        .extensions
        .get("field")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let error = error.with_extension("line", index);
    match field {
        Some(field) => error.with_extension("field", format!("lines[{index}].{field}")),
        None => error,
    }
}

/// The checks of `draft` that need no database (shape, bounds, a `created_at` not ahead of
/// the server); answers the time the order is priced and dated at.
pub fn check(draft: &OrderDraft, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    check_draft(draft)?;
    let at = draft.created_at.unwrap_or(now);
    check_not_ahead(at, now)?;
    Ok(at)
}

/// 422 `invalid_created_at` when a client's `created_at` (an order's, a payment's) is more
/// than [`MAX_CLOCK_AHEAD_MINUTES`] ahead of the server.
pub fn check_not_ahead(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
    if at > now + chrono::Duration::minutes(MAX_CLOCK_AHEAD_MINUTES) {
        return Err(invalid(
            "invalid_created_at",
            "created_at",
            format!(
                "`created_at` is more than {MAX_CLOCK_AHEAD_MINUTES} minutes ahead of the server."
            ),
        ));
    }
    Ok(())
}

/// Prices `draft` at its location as of its `created_at` (or `now`), inside `tx` (the tenant's
/// transaction: RLS scopes every read).
pub async fn quote(
    tx: &Transaction<'_>,
    draft: &OrderDraft,
    now: DateTime<Utc>,
) -> Result<Quote, Error> {
    let at = check(draft, now)?;
    // The reads are independent, so they are sent together: tokio-postgres pipelines the
    // queries polled at once on one connection, and an order of any size waits for three
    // round trips (location and variants, modifier groups, tax rates) instead of 2 per line.
    let location_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&draft.location_id];
    let location = tx.query_opt_cached(
        "SELECT currency, active FROM platform.locations WHERE id = $1",
        &location_params,
    );
    let customer = async {
        match draft.customer_id {
            Some(customer) => crate::customers::is_live(tx, customer).await.map(Some),
            None => Ok(None),
        }
    };
    let picks: Vec<(Uuid, &[Pick])> = draft
        .lines
        .iter()
        .map(|line| (line.variant_id, line.modifiers.as_slice()))
        .collect();
    let items = resolve_items(tx, draft.location_id, &picks, at);
    let (location, customer, items) = futures::join!(location, customer, items);
    let location = location?.ok_or_else(|| {
        Error::unprocessable(
            "unknown_location",
            format!("No location {}.", draft.location_id),
        )
        .with_extension("field", "location_id")
    })?;
    if !location.try_get::<_, bool>("active")? {
        return Err(Error::unprocessable(
            "location_inactive",
            format!("Location {} is not active.", draft.location_id),
        )
        .with_extension("field", "location_id"));
    }
    let currency: String = location.try_get("currency")?;
    if let (Some(customer), Some(false)) = (draft.customer_id, customer?) {
        return Err(invalid(
            "unknown_customer",
            "customer_id",
            format!("No customer {customer} (or it was merged into another)."),
        ));
    }
    // The first bad line (by position) is the one reported.
    let items: Vec<ResolvedItem> = items?
        .into_iter()
        .enumerate()
        .map(|(i, item)| item.map_err(|error| on_line(error, i)))
        .collect::<Result<_, Error>>()?;
    let mut categories: Vec<&str> = items
        .iter()
        .map(|item| item.tax_category.as_str())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let rates = futures::future::try_join_all(
        categories
            .iter()
            .map(|category| tax_rates(tx, draft.location_id, category)),
    )
    .await?;
    let rates_by_category: HashMap<&str, Vec<Rate>> = categories
        .into_iter()
        .zip(rates)
        .map(|(category, views)| (category, views.into_iter().map(rate).collect()))
        .collect();
    let lines = items
        .iter()
        .zip(&draft.lines)
        .map(|(item, line)| LineInput {
            unit_price_minor: item.unit_price_minor,
            quantity: line.quantity,
            discounts: line.discounts.clone(),
            rates: rates_by_category
                .get(item.tax_category.as_str())
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    let priced = pricing::price(&OrderInput {
        lines,
        discounts: draft.discounts.clone(),
        service_charge: draft.service_charge,
        tip_minor: draft.tip_minor,
    })?;
    let lines = items
        .into_iter()
        .zip(priced.lines)
        .zip(&draft.lines)
        .map(|((item, priced), line)| QuotedLine {
            variant_id: item.variant_id,
            product_id: item.product_id,
            product_name: item.product_name,
            variant_name: item.variant_name,
            category_id: item.category_id,
            sku: item.sku,
            tax_category: item.tax_category,
            modifiers: item.modifiers,
            note: line.note.clone(),
            track_inventory: item.track_inventory,
            cost_minor: item.cost_minor,
            base_price_minor: item.base_price_minor,
            priced,
        })
        .collect();
    Ok(Quote {
        location_id: draft.location_id,
        currency,
        priced_at: at,
        lines,
        discounts: priced.discounts,
        subtotal_minor: priced.subtotal_minor,
        discount_minor: priced.discount_minor,
        tax_minor: priced.tax_minor,
        tax_included_minor: priced.tax_included_minor,
        service_charge_minor: priced.service_charge_minor,
        tip_minor: priced.tip_minor,
        total_minor: priced.total_minor,
        taxes: priced.taxes,
    })
}

fn rate(view: TaxRateView) -> Rate {
    Rate {
        id: view.id,
        name: view.name,
        rate_bps: i64::from(view.rate_bps),
        inclusive: view.inclusive,
    }
}
