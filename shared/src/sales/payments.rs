//! Payments and refunds. A payment puts money towards one order with one tender; several may
//! cover one order (a split bill, by amount or by lines). Only cash may be handed over above
//! what is due (the rest is change); any other tender above the balance is refused. A refund
//! gives back part or all of one payment, never more than it brought, and may return the
//! refunded lines' stock.
//!
//! A till that took a payment or refund offline sends its own `created_at`: it is the row's
//! time and the event's `paid_at` / `refunded_at`, so the sale lands on its business day. It may
//! be at most [`super::quote::MAX_CLOCK_AHEAD_MINUTES`] ahead of the server (the order's own
//! rule, so one till clock passes both) and never before what it follows: a payment not before
//! the order was taken (`ordered_at`), a refund not before its payment.
//!
//! Every write locks the order row first (then the payment), so concurrent payments on one
//! order cannot overpay it together, and the order's `paid_minor` / `refunded_minor` always
//! equal the sums of its payments and refunds. `sales.order.paid` is recorded exactly once per
//! crossing of the balance to zero.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::lifecycle::{Actor, MAX_REASON_CHARS};
use super::orders::{self, OrderView, Status};
use super::pricing::div_half_even;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::Outbox;
use crate::events::sales::{OrderPaid, OrderRefunded, PaymentRecorded};
use crate::inventory::{self, Context, Kind, Movement, Reference};

/// The permission to take payments.
pub const PAYMENTS_WRITE: &str = "payments:write";
/// The permission to give money back.
pub const REFUNDS_WRITE: &str = "refunds:write";

/// Largest amount one payment or refund may carry, in minor units (a sanity bound).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
/// Longest reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 200;
/// Longest payment note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tender {
    Cash,
    Card,
    GiftCard,
    Other,
}

impl Tender {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::GiftCard => "gift_card",
            Self::Other => "other",
        }
    }
}

/// A payment as a till sends it (`POST /v1/orders/{id}/payments`).
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentDraft {
    pub tender: Tender,
    /// What to put towards the order. Absent: the lines' share (`line_ids`), else the whole
    /// balance (cash: at most what was tendered).
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// Cash handed over; the change is what exceeds the amount applied.
    #[serde(default)]
    pub tendered_minor: Option<i64>,
    /// A split by lines: this payment covers these lines (their totals plus their share of the
    /// service charge). Exclusive with `amount_minor`.
    #[serde(default)]
    pub line_ids: Vec<Uuid>,
    /// The card processor's reference (required for cards), the gift card's reference
    /// (required), or a label for `other`.
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub card_brand: Option<String>,
    #[serde(default)]
    pub card_last4: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// The till's clock when the payment was taken offline; absent: now.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// A line whose stock goes back with a refund.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RestockLine {
    pub line_id: Uuid,
    pub quantity: i64,
}

/// A refund as asked for (`POST /v1/payments/{id}/refunds`).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundDraft {
    /// Absent: everything of the payment not yet refunded.
    #[serde(default)]
    pub amount_minor: Option<i64>,
    pub reason: String,
    /// The processor's reference of the refund, if any.
    #[serde(default)]
    pub reference: Option<String>,
    /// Lines whose stock goes back (inventory `return` movements).
    #[serde(default)]
    pub restock: Vec<RestockLine>,
    /// The till's clock when the refund was given offline; absent: now.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// A refund as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundView {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount_minor: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub restocked: Value,
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A payment as answered, with its refunds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub location_id: Uuid,
    pub tender: String,
    pub amount_minor: i64,
    pub tendered_minor: Option<i64>,
    pub change_minor: i64,
    pub currency: String,
    pub reference: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub line_ids: Vec<Uuid>,
    pub refunded_minor: i64,
    pub refundable_minor: i64,
    pub note: Option<String>,
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub refunds: Vec<RefundView>,
}

const PAYMENT_COLUMNS: &str = "id, order_id, location_id, tender, amount_minor, tendered_minor, \
    change_minor, currency, reference, card_brand, card_last4, line_ids, refunded_minor, note, \
    recorded_by, created_at";

const REFUND_COLUMNS: &str =
    "id, payment_id, order_id, amount_minor, reason, reference, restocked, recorded_by, created_at";

static PAYMENTS_OF_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {PAYMENT_COLUMNS} FROM sales.payments WHERE order_id = $1 ORDER BY id")
});
static REFUNDS_OF_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {REFUND_COLUMNS} FROM sales.refunds WHERE order_id = $1 ORDER BY id")
});
static PAYMENT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {PAYMENT_COLUMNS} FROM sales.payments WHERE id = $1"));
static REFUNDS_OF_PAYMENT: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {REFUND_COLUMNS} FROM sales.refunds WHERE payment_id = $1 ORDER BY id")
});

impl RefundView {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            payment_id: row.try_get("payment_id")?,
            order_id: row.try_get("order_id")?,
            amount_minor: row.try_get("amount_minor")?,
            reason: row.try_get("reason")?,
            reference: row.try_get("reference")?,
            restocked: row.try_get("restocked")?,
            recorded_by: row.try_get("recorded_by")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl PaymentView {
    fn from_row(row: &tokio_postgres::Row, refunds: Vec<RefundView>) -> Result<Self, Error> {
        let amount: i64 = row.try_get("amount_minor")?;
        let refunded: i64 = row.try_get("refunded_minor")?;
        Ok(Self {
            id: row.try_get("id")?,
            order_id: row.try_get("order_id")?,
            location_id: row.try_get("location_id")?,
            tender: row.try_get("tender")?,
            amount_minor: amount,
            tendered_minor: row.try_get("tendered_minor")?,
            change_minor: row.try_get("change_minor")?,
            currency: row.try_get("currency")?,
            reference: row.try_get("reference")?,
            card_brand: row.try_get("card_brand")?,
            card_last4: row.try_get("card_last4")?,
            line_ids: row.try_get("line_ids")?,
            refunded_minor: refunded,
            refundable_minor: amount - refunded,
            note: row.try_get("note")?,
            recorded_by: row.try_get("recorded_by")?,
            created_at: row.try_get("created_at")?,
            refunds,
        })
    }
}

/// The payments of `order_id` (oldest first), each with its refunds.
pub async fn list_for_order(
    tx: &Transaction<'_>,
    order_id: Uuid,
) -> Result<Vec<PaymentView>, Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&order_id];
    let (payments, refunds) = futures::try_join!(
        tx.query(PAYMENTS_OF_ORDER.as_str(), &params),
        tx.query(REFUNDS_OF_ORDER.as_str(), &params)
    )?;
    let mut refunds = refunds
        .iter()
        .map(RefundView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    payments
        .iter()
        .map(|row| {
            let id: Uuid = row.try_get("id")?;
            let (mine, rest) = refunds.drain(..).partition(|r| r.payment_id == id);
            refunds = rest;
            PaymentView::from_row(row, mine)
        })
        .collect()
}

async fn load_payment(tx: &Transaction<'_>, id: Uuid) -> Result<PaymentView, Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let (payment, refunds) = futures::try_join!(
        tx.query_opt(PAYMENT_BY_ID.as_str(), &params),
        tx.query(REFUNDS_OF_PAYMENT.as_str(), &params)
    )?;
    let payment = payment.ok_or_else(payment_not_found)?;
    let refunds = refunds
        .iter()
        .map(RefundView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    PaymentView::from_row(&payment, refunds)
}

/// 404 `not_found` for a payment.
pub fn payment_not_found() -> Error {
    Error::not_found("No such payment.")
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail.into()).with_extension("field", field)
}

fn check_amount(amount: Option<i64>, field: &str) -> Result<(), Error> {
    match amount {
        Some(amount) if !(1..=MAX_AMOUNT_MINOR).contains(&amount) => Err(invalid(
            "invalid_amount",
            field,
            format!(
                "`{field}` must be a positive number of minor units (at most {MAX_AMOUNT_MINOR})."
            ),
        )),
        _ => Ok(()),
    }
}

fn check_text(text: Option<&String>, field: &str, max: usize) -> Result<(), Error> {
    match text {
        Some(text) if text.trim().is_empty() || text.chars().count() > max => Err(invalid(
            "invalid_text",
            field,
            format!("`{field}` must be 1 to {max} characters."),
        )),
        _ => Ok(()),
    }
}

/// 422 `invalid_created_at` unless a client's `created_at` is at most
/// [`super::quote::MAX_CLOCK_AHEAD_MINUTES`] ahead of `now` and not before `not_before` (the
/// time of what it follows, named by `follows` in the detail).
pub fn check_created_at(
    created_at: Option<DateTime<Utc>>,
    not_before: DateTime<Utc>,
    follows: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(at) = created_at else {
        return Ok(());
    };
    super::quote::check_not_ahead(at, now)?;
    if at < not_before {
        return Err(invalid(
            "invalid_created_at",
            "created_at",
            format!(
                "`created_at` is before {follows} ({}).",
                not_before.to_rfc3339()
            ),
        )
        .with_extension("not_before", not_before.to_rfc3339()));
    }
    Ok(())
}

/// Checks what a payment says about itself, before anything is read.
pub fn check_payment(draft: &PaymentDraft) -> Result<(), Error> {
    check_amount(draft.amount_minor, "amount_minor")?;
    check_amount(draft.tendered_minor, "tendered_minor")?;
    check_text(draft.reference.as_ref(), "reference", MAX_REFERENCE_CHARS)?;
    check_text(draft.note.as_ref(), "note", MAX_NOTE_CHARS)?;
    if draft.tendered_minor.is_some() && draft.tender != Tender::Cash {
        return Err(invalid(
            "tendered_not_cash",
            "tendered_minor",
            "Only cash is tendered; send `amount_minor` for other tenders.",
        ));
    }
    if draft.amount_minor.is_some() && !draft.line_ids.is_empty() {
        return Err(invalid(
            "amount_and_lines",
            "line_ids",
            "Split either by amount (`amount_minor`) or by lines (`line_ids`), not both.",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(line) = draft.line_ids.iter().find(|id| !seen.insert(**id)) {
        return Err(
            invalid("duplicate_line", "line_ids", "A line is listed twice.")
                .with_extension("line_id", line.to_string()),
        );
    }
    let card = draft.card_brand.is_some() || draft.card_last4.is_some();
    match draft.tender {
        Tender::Card => {
            if draft.reference.is_none() {
                return Err(invalid(
                    "reference_required",
                    "reference",
                    "A card payment needs the processor's `reference`.",
                ));
            }
            check_text(draft.card_brand.as_ref(), "card_brand", 30)?;
            if draft.card_brand.is_none() {
                return Err(invalid(
                    "card_brand_required",
                    "card_brand",
                    "A card payment needs the card's `card_brand` (visa, mastercard…).",
                ));
            }
            let last4_ok = draft
                .card_last4
                .as_deref()
                .is_some_and(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()));
            if !last4_ok {
                return Err(invalid(
                    "invalid_card_last4",
                    "card_last4",
                    "`card_last4` must be the card number's last 4 digits.",
                ));
            }
        }
        Tender::GiftCard if draft.reference.is_none() => {
            return Err(invalid(
                "reference_required",
                "reference",
                "A gift card payment needs the gift card's `reference`.",
            ));
        }
        _ if card => {
            return Err(invalid(
                "card_details_not_card",
                if draft.card_brand.is_some() {
                    "card_brand"
                } else {
                    "card_last4"
                },
                "Card details belong to card payments only.",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The order's money as a payment or refund needs it, locked for the rest of the transaction.
struct LockedOrder {
    location_id: Uuid,
    status: Status,
    customer_id: Option<Uuid>,
    currency: String,
    subtotal_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    service_charge_minor: i64,
    tip_minor: i64,
    total_minor: i64,
    paid_minor: i64,
    refunded_minor: i64,
    ordered_at: DateTime<Utc>,
    business_date: NaiveDate,
}

impl LockedOrder {
    /// What is still due: the total less what was paid and not given back.
    fn balance(&self) -> i64 {
        self.total_minor - (self.paid_minor - self.refunded_minor)
    }
}

async fn lock_order(
    tx: &Transaction<'_>,
    id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
) -> Result<LockedOrder, Error> {
    let row = tx
        .query_opt(
            "SELECT location_id, status, customer_id, currency, subtotal_minor, discount_minor,
                    tax_minor, service_charge_minor, tip_minor, total_minor, paid_minor,
                    refunded_minor, ordered_at, business_date
             FROM sales.orders WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(orders::not_found)?;
    let location_id: Uuid = row.try_get("location_id")?;
    if !visible(location_id) {
        return Err(orders::not_found());
    }
    Ok(LockedOrder {
        location_id,
        status: Status::parse(row.try_get("status")?)?,
        customer_id: row.try_get("customer_id")?,
        currency: row.try_get("currency")?,
        subtotal_minor: row.try_get("subtotal_minor")?,
        discount_minor: row.try_get("discount_minor")?,
        tax_minor: row.try_get("tax_minor")?,
        service_charge_minor: row.try_get("service_charge_minor")?,
        tip_minor: row.try_get("tip_minor")?,
        total_minor: row.try_get("total_minor")?,
        paid_minor: row.try_get("paid_minor")?,
        refunded_minor: row.try_get("refunded_minor")?,
        ordered_at: row.try_get("ordered_at")?,
        business_date: row.try_get("business_date")?,
    })
}

/// What the lines `line_ids` of the order come to: their totals plus their share (by net) of
/// the service charge. 422 `unknown_line`, 409 `line_already_paid`.
async fn lines_amount(
    tx: &Transaction<'_>,
    order_id: Uuid,
    order: &LockedOrder,
    line_ids: &[Uuid],
) -> Result<i64, Error> {
    let rows = tx
        .query(
            "SELECT id, net_minor, total_minor FROM sales.order_lines WHERE order_id = $1",
            &[&order_id],
        )
        .await?;
    let mut all_net: i128 = 0;
    let mut chosen_net: i128 = 0;
    let mut chosen_total: i64 = 0;
    let mut found = 0;
    for row in &rows {
        let id: Uuid = row.try_get("id")?;
        let net: i64 = row.try_get("net_minor")?;
        all_net += i128::from(net);
        if line_ids.contains(&id) {
            found += 1;
            chosen_net += i128::from(net);
            chosen_total += row.try_get::<_, i64>("total_minor")?;
        }
    }
    if found != line_ids.len() {
        let known: Vec<Uuid> = rows
            .iter()
            .filter_map(|row| row.try_get::<_, Uuid>("id").ok())
            .collect();
        let unknown = line_ids.iter().find(|id| !known.contains(id));
        return Err(invalid(
            "unknown_line",
            "line_ids",
            "A line is not a line of this order.",
        )
        .with_extension("line_id", unknown.map(Uuid::to_string)));
    }
    let paid: Vec<Uuid> = tx
        .query(
            "SELECT DISTINCT unnest(line_ids) AS line_id FROM sales.payments
             WHERE order_id = $1 AND line_ids && $2 AND refunded_minor < amount_minor",
            &[&order_id, &line_ids],
        )
        .await?
        .iter()
        .map(|row| row.try_get("line_id"))
        .collect::<Result<_, _>>()?;
    let already: Vec<String> = line_ids
        .iter()
        .filter(|id| paid.contains(id))
        .map(Uuid::to_string)
        .collect();
    if !already.is_empty() {
        return Err(Error::conflict(
            "line_already_paid",
            "A payment already covers some of these lines.",
        )
        .with_extension("line_ids", already));
    }
    let service_share = if all_net > 0 {
        div_half_even(i128::from(order.service_charge_minor) * chosen_net, all_net)
    } else {
        0
    };
    Ok(chosen_total + i64::try_from(service_share).unwrap_or(0))
}

/// The amount applied, what was tendered and the change of a payment against `balance`.
fn settle(
    draft: &PaymentDraft,
    requested: i64,
    balance: i64,
) -> Result<(i64, Option<i64>, i64), Error> {
    if draft.tender == Tender::Cash {
        let applied = requested.min(balance);
        let tendered = draft.tendered_minor.unwrap_or(requested);
        if tendered < applied {
            return Err(invalid(
                "tendered_too_little",
                "tendered_minor",
                format!("{tendered} was tendered for a payment of {applied}."),
            ));
        }
        return Ok((applied, Some(tendered), tendered - applied));
    }
    if requested > balance {
        return Err(Error::conflict(
            "overpayment",
            format!(
                "The payment of {requested} is more than the {balance} still due; only cash \
                 may be handed over above the balance."
            ),
        )
        .with_extension("balance_minor", balance));
    }
    Ok((requested, None, 0))
}

/// Records a payment on order `order_id` (locked first) and its events: always
/// `sales.payment.recorded`, and `sales.order.paid` when it brings the balance to zero.
pub async fn record_payment(
    tx: &Transaction<'_>,
    actor: Actor,
    order_id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    draft: &PaymentDraft,
    outbox: &mut Outbox,
) -> Result<(PaymentView, OrderView), Error> {
    check_payment(draft)?;
    let order = lock_order(tx, order_id, visible).await?;
    check_created_at(
        draft.created_at,
        order.ordered_at,
        "the order was taken",
        Utc::now(),
    )?;
    if order.status == Status::Cancelled {
        return Err(Error::conflict(
            "order_cancelled",
            "The order is cancelled; it takes no payments.",
        ));
    }
    let balance = order.balance();
    if balance <= 0 {
        return Err(Error::conflict(
            "order_settled",
            "Nothing is due on this order: its payments cover its total.",
        )
        .with_extension("balance_minor", balance.max(0)));
    }
    let requested = if !draft.line_ids.is_empty() {
        lines_amount(tx, order_id, &order, &draft.line_ids).await?
    } else if let Some(amount) = draft.amount_minor {
        amount
    } else if let Some(tendered) = draft.tendered_minor {
        tendered.min(balance)
    } else {
        balance
    };
    if requested <= 0 {
        return Err(invalid(
            "invalid_amount",
            "line_ids",
            "These lines come to nothing to pay.",
        ));
    }
    let (applied, tendered, change) = settle(draft, requested, balance)?;
    let id = Uuid::now_v7();
    let reference = draft.reference.as_deref().map(str::trim);
    let brand = draft
        .card_brand
        .as_deref()
        .map(|brand| brand.trim().to_lowercase());
    let note = draft.note.as_deref().map(str::trim);
    tx.execute(
        "INSERT INTO sales.payments
                (id, tenant_id, order_id, location_id, tender, amount_minor, tendered_minor,
                 change_minor, currency, reference, card_brand, card_last4, line_ids, note,
                 recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 coalesce($16, now()))",
        &[
            &id,
            &actor.tenant,
            &order_id,
            &order.location_id,
            &draft.tender.as_str(),
            &applied,
            &tendered,
            &change,
            &order.currency,
            &reference,
            &brand,
            &draft.card_last4,
            &draft.line_ids,
            &note,
            &actor.user,
            &draft.created_at,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE sales.orders SET paid_minor = paid_minor + $2, version = version + 1,
                updated_at = now()
         WHERE id = $1",
        &[&order_id, &applied],
    )
    .await?;
    let payment = load_payment(tx, id).await?;
    outbox
        .record(
            tx,
            Some(actor.tenant),
            &PaymentRecorded {
                payment_id: id,
                order_id,
                location_id: order.location_id,
                tender: draft.tender.as_str().to_owned(),
                amount_minor: applied,
                change_minor: change,
                currency: order.currency.clone(),
                recorded_at: payment.created_at,
            },
        )
        .await?;
    if applied >= balance {
        outbox
            .record(
                tx,
                Some(actor.tenant),
                &OrderPaid {
                    order_id,
                    location_id: order.location_id,
                    customer_id: order.customer_id,
                    currency: order.currency.clone(),
                    subtotal_minor: order.subtotal_minor,
                    discount_minor: order.discount_minor,
                    tax_minor: order.tax_minor,
                    service_charge_minor: order.service_charge_minor,
                    tip_minor: order.tip_minor,
                    total_minor: order.total_minor,
                    paid_minor: order.paid_minor - order.refunded_minor + applied,
                    ordered_at: order.ordered_at,
                    business_date: order.business_date,
                    paid_at: payment.created_at,
                },
            )
            .await?;
    }
    let view = orders::load(tx, order_id)
        .await?
        .ok_or_else(orders::not_found)?;
    Ok((payment, view))
}

/// Checks what a refund says about itself, before anything is read.
pub fn check_refund(draft: &RefundDraft) -> Result<(), Error> {
    check_amount(draft.amount_minor, "amount_minor")?;
    check_text(Some(&draft.reason), "reason", MAX_REASON_CHARS)?;
    check_text(draft.reference.as_ref(), "reference", MAX_REFERENCE_CHARS)?;
    let mut seen = std::collections::HashSet::new();
    for (index, line) in draft.restock.iter().enumerate() {
        let field = format!("restock[{index}]");
        if line.quantity < 1 {
            return Err(invalid(
                "invalid_quantity",
                &format!("{field}.quantity"),
                "A restocked quantity must be at least 1.",
            ));
        }
        if !seen.insert(line.line_id) {
            return Err(invalid(
                "duplicate_line",
                &format!("{field}.line_id"),
                "A line is listed twice.",
            ));
        }
    }
    Ok(())
}

/// Returns the stock of `restock` (lines of `order_id`): checks each against what its line
/// sold and already returned, records `return` movements and counts them on the lines.
async fn restock_lines(
    tx: &Transaction<'_>,
    actor: Actor,
    order_id: Uuid,
    order: &LockedOrder,
    refund_id: Uuid,
    draft: &RefundDraft,
    outbox: &mut Outbox,
) -> Result<(), Error> {
    let restock = draft.restock.as_slice();
    if restock.is_empty() {
        return Ok(());
    }
    if !matches!(order.status, Status::Placed | Status::Completed) {
        return Err(Error::conflict(
            "nothing_to_restock",
            "Only a placed or completed order sold stock that can go back.",
        ));
    }
    let ids: Vec<Uuid> = restock.iter().map(|line| line.line_id).collect();
    let rows = tx
        .query(
            "SELECT id, variant_id, quantity, restocked_quantity, track_inventory
             FROM sales.order_lines WHERE order_id = $1 AND id = ANY($2)",
            &[&order_id, &ids],
        )
        .await?;
    let mut movements = Vec::with_capacity(restock.len());
    for (index, line) in restock.iter().enumerate() {
        let field = format!("restock[{index}]");
        let row = rows
            .iter()
            .find(|row| row.try_get::<_, Uuid>("id").ok() == Some(line.line_id))
            .ok_or_else(|| {
                invalid(
                    "unknown_line",
                    &format!("{field}.line_id"),
                    "The line is not a line of this order.",
                )
            })?;
        if !row.try_get::<_, bool>("track_inventory")? {
            return Err(invalid(
                "line_not_tracked",
                &format!("{field}.line_id"),
                "The line's variant does not track stock.",
            ));
        }
        let left =
            row.try_get::<_, i64>("quantity")? - row.try_get::<_, i64>("restocked_quantity")?;
        if line.quantity > left {
            return Err(invalid(
                "restock_exceeds_line",
                &format!("{field}.quantity"),
                format!("At most {left} more of this line can go back to stock."),
            )
            .with_extension("restockable_quantity", left));
        }
        movements.push(Movement {
            variant_id: row.try_get("variant_id")?,
            location_id: order.location_id,
            kind: Kind::Return,
            quantity: line.quantity,
            reason: Some("refund".to_owned()),
            // An offline refund's stock came back when it was given.
            occurred_at: draft.created_at.unwrap_or_else(Utc::now),
            reference: Some(Reference {
                kind: "refund".to_owned(),
                id: refund_id.to_string(),
            }),
        });
        tx.execute(
            "UPDATE sales.order_lines SET restocked_quantity = restocked_quantity + $2
             WHERE id = $1",
            &[&line.line_id, &line.quantity],
        )
        .await?;
    }
    let context = Context {
        actor: actor.user,
        consumes: None,
    };
    inventory::record(tx, actor.tenant, &movements, context, outbox).await?;
    Ok(())
}

/// Refunds payment `payment_id` (its order locked first, then the payment) and records
/// `sales.order.refunded`. Answers the refund, its payment and the order.
pub async fn record_refund(
    tx: &Transaction<'_>,
    actor: Actor,
    payment_id: Uuid,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    draft: &RefundDraft,
    outbox: &mut Outbox,
) -> Result<(RefundView, PaymentView, OrderView), Error> {
    check_refund(draft)?;
    let order_id: Uuid = tx
        .query_opt(
            "SELECT order_id FROM sales.payments WHERE id = $1",
            &[&payment_id],
        )
        .await?
        .ok_or_else(payment_not_found)?
        .try_get(0)?;
    let order = lock_order(tx, order_id, visible)
        .await
        .map_err(|_| payment_not_found())?;
    let payment = tx
        .query_one(
            "SELECT amount_minor, refunded_minor, created_at FROM sales.payments
             WHERE id = $1 FOR UPDATE",
            &[&payment_id],
        )
        .await?;
    check_created_at(
        draft.created_at,
        payment.try_get("created_at")?,
        "the payment was taken",
        Utc::now(),
    )?;
    let refundable =
        payment.try_get::<_, i64>("amount_minor")? - payment.try_get::<_, i64>("refunded_minor")?;
    if refundable <= 0 {
        return Err(Error::conflict(
            "payment_fully_refunded",
            "Everything this payment brought has been refunded.",
        ));
    }
    let amount = draft.amount_minor.unwrap_or(refundable);
    if amount > refundable {
        return Err(invalid(
            "refund_exceeds_payment",
            "amount_minor",
            format!("At most {refundable} of this payment can be refunded."),
        )
        .with_extension("refundable_minor", refundable));
    }
    let id = Uuid::now_v7();
    restock_lines(tx, actor, order_id, &order, id, draft, outbox).await?;
    let restocked = serde_json::to_value(&draft.restock).unwrap_or(Value::Null);
    tx.execute(
        "INSERT INTO sales.refunds
                (id, tenant_id, payment_id, order_id, amount_minor, reason, reference, restocked,
                 recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()))",
        &[
            &id,
            &actor.tenant,
            &payment_id,
            &order_id,
            &amount,
            &draft.reason.trim(),
            &draft.reference.as_deref().map(str::trim),
            &restocked,
            &actor.user,
            &draft.created_at,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE sales.payments SET refunded_minor = refunded_minor + $2 WHERE id = $1",
        &[&payment_id, &amount],
    )
    .await?;
    tx.execute(
        "UPDATE sales.orders SET refunded_minor = refunded_minor + $2, version = version + 1,
                updated_at = now()
         WHERE id = $1",
        &[&order_id, &amount],
    )
    .await?;
    let payment = load_payment(tx, payment_id).await?;
    let refund = payment
        .refunds
        .iter()
        .find(|refund| refund.id == id)
        .cloned()
        .ok_or_else(|| Error::internal("a refund just written is missing"))?;
    outbox
        .record(
            tx,
            Some(actor.tenant),
            &OrderRefunded {
                refund_id: id,
                payment_id,
                order_id,
                location_id: order.location_id,
                customer_id: order.customer_id,
                currency: order.currency.clone(),
                amount_minor: amount,
                order_total_minor: order.total_minor,
                order_paid_minor: order.paid_minor,
                order_refunded_minor: order.refunded_minor + amount,
                refunded_at: refund.created_at,
            },
        )
        .await?;
    let view = orders::load(tx, order_id)
        .await?
        .ok_or_else(orders::not_found)?;
    Ok((refund, payment, view))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_client_created_at_is_neither_ahead_of_the_server_nor_before_what_it_follows() {
        let now: DateTime<Utc> = "2025-03-07T12:00:00Z".parse().unwrap();
        let ordered: DateTime<Utc> = "2025-03-07T11:00:00Z".parse().unwrap();
        let at = |text: &str| Some(text.parse::<DateTime<Utc>>().unwrap());
        let check = |created_at| check_created_at(created_at, ordered, "the order", now);
        assert!(check(None).is_ok());
        assert!(check(at("2025-03-07T11:00:00Z")).is_ok());
        assert!(
            check(at("2025-03-07T12:05:00Z")).is_ok(),
            "clock skew allowed"
        );
        let ahead = check(at("2025-03-07T12:05:01Z")).unwrap_err();
        assert_eq!(ahead.code(), "invalid_created_at");
        assert_eq!(ahead.problem().extensions["field"], "created_at");
        let before = check(at("2025-03-07T10:59:59Z")).unwrap_err();
        assert_eq!(before.code(), "invalid_created_at");
        assert_eq!(
            before.problem().extensions["not_before"],
            "2025-03-07T11:00:00+00:00"
        );
    }
}
