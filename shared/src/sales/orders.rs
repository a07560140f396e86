//! Orders as stored and answered: creation from a [`Quote`], human order numbers per location
//! and business day, the state machine's next states and the derived payment status.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::quote::{OrderDraft, Quote, QuotedLine};
use crate::db::Prepared as _;
use crate::db::{self, Client, Transaction};
use crate::error::Error;

/// The permission to read orders.
pub const READ: &str = "orders:read";
/// The permission to take and change orders.
pub const WRITE: &str = "orders:write";

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Placed,
    Completed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Placed => "placed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "open" => Ok(Self::Open),
            "placed" => Ok(Self::Placed),
            "completed" => Ok(Self::Completed),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(Error::internal(format!("unknown order status {other:?}"))),
        }
    }

    /// The states an order may move to from this one.
    pub fn next_states(self) -> &'static [Status] {
        match self {
            Self::Open => &[Self::Placed, Self::Cancelled],
            Self::Placed => &[Self::Completed, Self::Cancelled],
            Self::Completed | Self::Cancelled => &[],
        }
    }
}

/// Derived from what was paid and refunded, never stored as a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Unpaid,
    PartiallyPaid,
    Paid,
    PartiallyRefunded,
    Refunded,
}

/// The payment status of an order of `total` with `paid` received and `refunded` given back.
pub fn payment_status(total: i64, paid: i64, refunded: i64) -> PaymentStatus {
    if refunded > 0 {
        if refunded >= paid {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    } else if paid >= total && paid > 0 {
        PaymentStatus::Paid
    } else if paid > 0 {
        PaymentStatus::PartiallyPaid
    } else {
        PaymentStatus::Unpaid
    }
}

/// The business day of `at` at a location whose day starts at local `cutoff` (its
/// `day_cutoff`, 00:00 to 11:59): the local date of (local wall-clock time − cutoff). A bar
/// open until 03:00 with cutoff 04:00 books its 01:30 orders on the evening's date.
///
/// Wall-clock arithmetic, not elapsed time: on a DST change day the business day still starts
/// when the location's clocks show the cutoff (23 or 25 hours later than the previous one).
/// `olympus::analytics::BUSINESS_DATE_SQL` is the same rule in SQL, for refunds dated in the
/// rollup; the two are tested against each other.
pub fn business_date(time_zone: &str, cutoff: NaiveTime, at: DateTime<Utc>) -> NaiveDate {
    let local = match time_zone.parse::<Tz>() {
        Ok(zone) => at.with_timezone(&zone).naive_local(),
        Err(_) => at.naive_utc(),
    };
    (local - cutoff.signed_duration_since(NaiveTime::MIN)).date()
}

/// `A-001` … `A-999`, then `B-001` …: short enough to call out across a counter.
pub fn order_number(n: i32) -> String {
    let n = n.max(1) - 1;
    let letter = char::from(b'A' + u8::try_from((n / 999) % 26).unwrap_or(0));
    format!("{letter}-{:03}", n % 999 + 1)
}

/// An order line as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderLineView {
    pub id: Uuid,
    pub position: i32,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub variant_name: String,
    pub sku: Option<String>,
    pub category_id: Option<Uuid>,
    pub tax_category: String,
    pub modifiers: Value,
    pub note: Option<String>,
    pub quantity: i64,
    pub base_price_minor: i64,
    pub unit_price_minor: i64,
    pub gross_minor: i64,
    pub discounts: Value,
    pub order_discount_minor: i64,
    pub discount_minor: i64,
    pub net_minor: i64,
    pub taxes: Value,
    pub tax_minor: i64,
    pub total_minor: i64,
}

/// An order as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub id: Uuid,
    pub location_id: Uuid,
    pub number: String,
    pub business_date: NaiveDate,
    pub status: Status,
    pub next_states: Vec<Status>,
    pub payment_status: PaymentStatus,
    pub channel: String,
    pub source: String,
    pub client_order_id: Option<String>,
    pub customer_id: Option<Uuid>,
    pub table: Option<String>,
    pub party_size: Option<i32>,
    pub note: Option<String>,
    pub currency: String,
    pub lines: Vec<OrderLineView>,
    pub discounts: Value,
    pub service_charge: Option<Value>,
    pub taxes: Value,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub tax_included_minor: i64,
    pub service_charge_minor: i64,
    pub tip_minor: i64,
    pub total_minor: i64,
    pub paid_minor: i64,
    pub refunded_minor: i64,
    pub balance_minor: i64,
    pub ordered_at: DateTime<Utc>,
    pub placed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "id, location_id, number, business_date, status, channel, source, \
    client_order_id, customer_id, table_label, party_size, note, currency, discounts, \
    service_charge, taxes, subtotal_minor, discount_minor, tax_minor, tax_included_minor, \
    service_charge_minor, tip_minor, total_minor, paid_minor, refunded_minor, ordered_at, \
    placed_at, completed_at, cancelled_at, cancel_reason, created_by, version, created_at, \
    updated_at";

const LINE_COLUMNS: &str = "id, position, variant_id, product_id, product_name, variant_name, \
    sku, category_id, tax_category, modifiers, note, quantity, base_price_minor, \
    unit_price_minor, gross_minor, discounts, order_discount_minor, discount_minor, net_minor, \
    taxes, tax_minor, total_minor";

impl OrderLineView {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            position: row.try_get("position")?,
            variant_id: row.try_get("variant_id")?,
            product_id: row.try_get("product_id")?,
            product_name: row.try_get("product_name")?,
            variant_name: row.try_get("variant_name")?,
            sku: row.try_get("sku")?,
            category_id: row.try_get("category_id")?,
            tax_category: row.try_get("tax_category")?,
            modifiers: row.try_get("modifiers")?,
            note: row.try_get("note")?,
            quantity: row.try_get("quantity")?,
            base_price_minor: row.try_get("base_price_minor")?,
            unit_price_minor: row.try_get("unit_price_minor")?,
            gross_minor: row.try_get("gross_minor")?,
            discounts: row.try_get("discounts")?,
            order_discount_minor: row.try_get("order_discount_minor")?,
            discount_minor: row.try_get("discount_minor")?,
            net_minor: row.try_get("net_minor")?,
            taxes: row.try_get("taxes")?,
            tax_minor: row.try_get("tax_minor")?,
            total_minor: row.try_get("total_minor")?,
        })
    }
}

impl OrderView {
    fn from_row(row: &tokio_postgres::Row, lines: Vec<OrderLineView>) -> Result<Self, Error> {
        let status = Status::parse(row.try_get("status")?)?;
        let total: i64 = row.try_get("total_minor")?;
        let paid: i64 = row.try_get("paid_minor")?;
        let refunded: i64 = row.try_get("refunded_minor")?;
        Ok(Self {
            id: row.try_get("id")?,
            location_id: row.try_get("location_id")?,
            number: row.try_get("number")?,
            business_date: row.try_get("business_date")?,
            status,
            next_states: status.next_states().to_vec(),
            payment_status: payment_status(total, paid, refunded),
            channel: row.try_get("channel")?,
            source: row.try_get("source")?,
            client_order_id: row.try_get("client_order_id")?,
            customer_id: row.try_get("customer_id")?,
            table: row.try_get("table_label")?,
            party_size: row.try_get("party_size")?,
            note: row.try_get("note")?,
            currency: row.try_get("currency")?,
            lines,
            discounts: row.try_get("discounts")?,
            service_charge: row.try_get("service_charge")?,
            taxes: row.try_get("taxes")?,
            subtotal_minor: row.try_get("subtotal_minor")?,
            discount_minor: row.try_get("discount_minor")?,
            tax_minor: row.try_get("tax_minor")?,
            tax_included_minor: row.try_get("tax_included_minor")?,
            service_charge_minor: row.try_get("service_charge_minor")?,
            tip_minor: row.try_get("tip_minor")?,
            total_minor: total,
            paid_minor: paid,
            refunded_minor: refunded,
            balance_minor: (total - paid + refunded).max(0),
            ordered_at: row.try_get("ordered_at")?,
            placed_at: row.try_get("placed_at")?,
            completed_at: row.try_get("completed_at")?,
            cancelled_at: row.try_get("cancelled_at")?,
            cancel_reason: row.try_get("cancel_reason")?,
            created_by: row.try_get("created_by")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

static ORDER_BY_ID: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {ORDER_COLUMNS} FROM sales.orders WHERE id = $1"));
static LINES_OF_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {LINE_COLUMNS} FROM sales.order_lines WHERE order_id = $1 ORDER BY position")
});

/// The order `id` with its lines, or `None` (RLS: another tenant's order is absent).
pub async fn load(tx: &Transaction<'_>, id: Uuid) -> Result<Option<OrderView>, Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
    let (order, lines) = futures::try_join!(
        tx.query_opt_cached(ORDER_BY_ID.as_str(), &params),
        tx.query_cached(LINES_OF_ORDER.as_str(), &params)
    )?;
    let Some(order) = order else {
        return Ok(None);
    };
    let lines = lines
        .iter()
        .map(OrderLineView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    OrderView::from_row(&order, lines).map(Some)
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub cursor: Option<Uuid>,
    pub location_id: Option<Uuid>,
    /// The principal's locations (`None`: every location of the tenant).
    pub locations: Option<Vec<Uuid>>,
    pub status: Option<Status>,
    pub payment_status: Option<PaymentStatus>,
    pub channel: Option<String>,
    pub customer_id: Option<Uuid>,
    /// Business days, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Rows to fetch.
    pub limit: i64,
}

/// The SQL form of [`payment_status`], for filtering.
fn payment_status_sql(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Unpaid => "refunded_minor = 0 AND paid_minor = 0",
        PaymentStatus::PartiallyPaid => {
            "refunded_minor = 0 AND paid_minor > 0 AND paid_minor < total_minor"
        }
        PaymentStatus::Paid => {
            "refunded_minor = 0 AND paid_minor > 0 AND paid_minor >= total_minor"
        }
        PaymentStatus::PartiallyRefunded => "refunded_minor > 0 AND refunded_minor < paid_minor",
        PaymentStatus::Refunded => "refunded_minor > 0 AND refunded_minor >= paid_minor",
    }
}

/// Orders matching `filter`, newest first, with their lines (two statements).
pub async fn list(tx: &Transaction<'_>, filter: &ListFilter) -> Result<Vec<OrderView>, Error> {
    let payment = filter.payment_status.map_or("true", payment_status_sql);
    let status = filter.status.map(Status::as_str);
    let rows = tx
        .query(
            &format!(
                "SELECT {ORDER_COLUMNS} FROM sales.orders
                 WHERE ($1::uuid IS NULL OR id < $1)
                   AND ($2::uuid IS NULL OR location_id = $2)
                   AND ($3::uuid[] IS NULL OR location_id = ANY($3))
                   AND ($4::text IS NULL OR status = $4)
                   AND ($5::text IS NULL OR channel = $5)
                   AND ($6::uuid IS NULL OR customer_id = $6)
                   AND ($7::date IS NULL OR business_date >= $7)
                   AND ($8::date IS NULL OR business_date <= $8)
                   AND ({payment})
                 ORDER BY id DESC
                 LIMIT $9"
            ),
            &[
                &filter.cursor,
                &filter.location_id,
                &filter.locations,
                &status,
                &filter.channel,
                &filter.customer_id,
                &filter.from,
                &filter.to,
                &filter.limit,
            ],
        )
        .await?;
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    let line_rows = tx
        .query(
            &format!(
                "SELECT order_id, {LINE_COLUMNS} FROM sales.order_lines
                 WHERE order_id = ANY($1) ORDER BY order_id, position"
            ),
            &[&ids],
        )
        .await?;
    let mut lines: std::collections::HashMap<Uuid, Vec<OrderLineView>> =
        std::collections::HashMap::new();
    for row in &line_rows {
        lines
            .entry(row.try_get("order_id")?)
            .or_default()
            .push(OrderLineView::from_row(row)?);
    }
    rows.iter()
        .zip(ids)
        .map(|(row, id)| OrderView::from_row(row, lines.remove(&id).unwrap_or_default()))
        .collect()
}

/// The order id of a path segment; a malformed one is simply not found.
pub fn path_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| not_found())
}

/// 404 `not_found` for an order.
pub fn not_found() -> Error {
    Error::not_found("No such order.")
}

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// A new order.
    New(Box<OrderView>),
    /// The tenant already has an order with this `client_order_id` (a till's replay); the
    /// caller rolls back (releasing the number it took) and answers that order.
    Existing(Uuid),
}

/// The id of the tenant's order with `client_order_id`, if any.
pub async fn by_client_order_id(
    tx: &Transaction<'_>,
    client_order_id: &str,
) -> Result<Option<Uuid>, Error> {
    Ok(tx
        .query_opt_cached(
            "SELECT id FROM sales.orders WHERE client_order_id = $1",
            &[&client_order_id],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?)
}

/// What [`allot`] found: the order a till already created with this `client_order_id`, or
/// the number for a new one.
#[derive(Debug)]
pub enum Allotment {
    Replay(Uuid),
    Number(Allotted),
}

/// An order number of a location's business day, taken before the order is stored.
#[derive(Debug, Clone)]
pub struct Allotted {
    pub business_date: NaiveDate,
    pub number: String,
}

/// Takes the next order number of `location_id`'s business day of `at` in a short
/// transaction of its own (one round trip), unless the tenant already has an order with
/// `client_order_id` (an offline till's replay, which must not use up a number).
///
/// Why not inside the order's transaction: the day's counter is the one row every order at a
/// location updates, and a row lock lasts until commit. Taken in the order's transaction it
/// serialised a location's tills for the whole of pricing, stock and kitchen work (16 tills
/// at one location: p99 1.4 s); here it is held for one statement. The price: an order that
/// then fails (422, `insufficient_stock`) leaves a gap in the day's numbers, as at most tills.
/// The counter commits without waiting for its WAL flush: the order's own commit flushes
/// it, so no stored order ever has a number a crash could hand out again.
///
/// The business date is computed by PostgreSQL ([`crate::analytics::business_date_sql`], the
/// rule of [`business_date`], checked against it case by case), so that the counter is
/// taken in the same statement that reads the location.
pub async fn allot(
    client: &Client,
    tenant: Uuid,
    location_id: Uuid,
    client_order_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Allotment, Error> {
    let counter: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&tenant, &location_id, &at, &client_order_id];
    let taken = db::tenant_batch(
        client,
        "BEGIN; SET LOCAL synchronous_commit TO off",
        tenant,
        &[(ALLOT.as_str(), &counter)],
    )
    .await?;
    if let Some(row) = taken.first().and_then(|rows| rows.first()) {
        let n: i32 = row.try_get(0)?;
        return Ok(Allotment::Number(Allotted {
            business_date: row.try_get(1)?,
            number: order_number(n),
        }));
    }
    // Nothing taken: the tenant has an order with this client_order_id (orders are never
    // deleted), or it has no such location.
    let key: Params1 = [&client_order_id];
    let found = db::tenant_read(
        client,
        tenant,
        &[(
            "SELECT id FROM sales.orders WHERE client_order_id = $1",
            &key,
        )],
    )
    .await?;
    match found.first().and_then(|rows| rows.first()) {
        Some(row) => Ok(Allotment::Replay(row.try_get(0)?)),
        None => Err(Error::unprocessable(
            "unknown_location",
            format!("No location {location_id}."),
        )
        .with_extension("field", "location_id")),
    }
}

static ALLOT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO sales.order_number_counters AS c
                (tenant_id, location_id, business_date, last_number)
         SELECT $1, l.id, {date}, 1
         FROM platform.locations l
         WHERE l.id = $2
           AND NOT EXISTS (SELECT 1 FROM sales.orders o WHERE o.client_order_id = $4)
         ON CONFLICT (tenant_id, location_id, business_date)
         DO UPDATE SET last_number = c.last_number + 1
         RETURNING c.last_number, c.business_date",
        date =
            crate::analytics::business_date_sql("$3::timestamptz", "l.time_zone", "l.day_cutoff")
    )
});

type Params1<'a> = [&'a (dyn tokio_postgres::types::ToSql + Sync); 1];

/// Stores `quote` as a new order of `tenant` with the number [`allot`] gave it, `open`, or
/// `placed` when the till sends and places it at once (the caller then makes the effects of
/// placing with [`super::lifecycle::send_created`]): one row version instead of an insert and
/// an update that rewrites every index of the order. Such an order is placed when it was taken
/// (`ordered_at`: an offline till's own time).
pub async fn create(
    tx: &Transaction<'_>,
    tenant: Uuid,
    created_by: Option<Uuid>,
    draft: &OrderDraft,
    quote: &Quote,
    allotted: &Allotted,
) -> Result<Created, Error> {
    let placed = draft.place;
    let client_order_id = draft.client_order_id.as_deref();
    let id = Uuid::now_v7();
    let channel = wire_name(&draft.channel);
    let source = wire_name(&draft.source);
    let discounts = json(&quote.discounts);
    let service_charge = draft.service_charge.map(|charge| json(&charge));
    let taxes = json(&quote.taxes);
    let table = draft.table.as_deref().map(str::trim);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 26] = [
        &id,
        &tenant,
        &quote.location_id,
        &allotted.number,
        &allotted.business_date,
        &channel,
        &source,
        &client_order_id,
        &draft.customer_id,
        &table,
        &draft.party_size,
        &draft.note,
        &quote.currency,
        &discounts,
        &service_charge,
        &taxes,
        &quote.subtotal_minor,
        &quote.discount_minor,
        &quote.tax_minor,
        &quote.tax_included_minor,
        &quote.service_charge_minor,
        &quote.tip_minor,
        &quote.total_minor,
        &quote.priced_at,
        &created_by,
        &placed,
    ];
    // The order and its lines in one round trip, each statement answering its rows: nothing is
    // read back. The lines' statement stores nothing when the order was not stored (another
    // request already used its client_order_id).
    let lines = LineColumns::new(&quote.lines);
    let line_params = lines.params(&tenant, &id);
    let mut rows = db::pipeline(
        tx,
        &[
            (INSERT_ORDER.as_str(), &params),
            (INSERT_LINES.as_str(), &line_params),
        ],
    )
    .await?
    .into_iter();
    let order = rows.next().unwrap_or_default();
    let line_rows = rows.next().unwrap_or_default();
    let Some(order) = order.first() else {
        let existing = match client_order_id {
            Some(key) => by_client_order_id(tx, key).await?,
            None => None,
        };
        return existing
            .map(Created::Existing)
            .ok_or_else(|| Error::internal("order insert conflicted without a client order id"));
    };
    let mut lines = line_rows
        .iter()
        .map(OrderLineView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    lines.sort_by_key(|line| line.position);
    let order = OrderView::from_row(order, lines)?;
    Ok(Created::New(Box::new(order)))
}

static INSERT_ORDER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO sales.orders
                (id, tenant_id, location_id, number, business_date, channel, source,
                 client_order_id, customer_id, table_label, party_size, note, currency,
                 discounts, service_charge, taxes, subtotal_minor, discount_minor, tax_minor,
                 tax_included_minor, service_charge_minor, tip_minor, total_minor,
                 ordered_at, created_by, status, placed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,
                 CASE WHEN $26 THEN 'placed' ELSE 'open' END,
                 CASE WHEN $26 THEN $24::timestamptz END)
         ON CONFLICT (tenant_id, client_order_id) DO NOTHING
         RETURNING {ORDER_COLUMNS}"
    )
});

/// Stores the priced `lines` of order `order_id` (positions from 0) in one statement.
pub(crate) async fn insert_lines(
    tx: &Transaction<'_>,
    tenant: Uuid,
    order_id: Uuid,
    lines: &[QuotedLine],
) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let columns = LineColumns::new(lines);
    tx.execute_cached(INSERT_LINES.as_str(), &columns.params(&tenant, &order_id))
        .await?;
    Ok(())
}

/// The priced lines of an order as column arrays: one statement stores them all (each
/// statement has a fixed cost on the server — plan check, executor start, RLS policy set-up
/// — that was most of what a line cost).
struct LineColumns<'a> {
    ids: Vec<Uuid>,
    positions: Vec<i32>,
    variants: Vec<Uuid>,
    products: Vec<Uuid>,
    product_names: Vec<&'a str>,
    variant_names: Vec<&'a str>,
    skus: Vec<Option<&'a str>>,
    categories: Vec<Option<Uuid>>,
    tax_categories: Vec<&'a str>,
    modifiers: Vec<Value>,
    notes: Vec<Option<&'a str>>,
    quantities: Vec<i64>,
    base_prices: Vec<i64>,
    unit_prices: Vec<i64>,
    gross: Vec<i64>,
    discounts: Vec<Value>,
    order_discounts: Vec<i64>,
    line_discounts: Vec<i64>,
    net: Vec<i64>,
    taxes: Vec<Value>,
    tax: Vec<i64>,
    totals: Vec<i64>,
    costs: Vec<Option<i64>>,
    tracked: Vec<bool>,
}

impl<'a> LineColumns<'a> {
    fn new(lines: &'a [QuotedLine]) -> Self {
        let column = |f: &dyn Fn(&QuotedLine) -> i64| lines.iter().map(f).collect::<Vec<i64>>();
        Self {
            ids: lines.iter().map(|_| Uuid::now_v7()).collect(),
            positions: (0..lines.len())
                .map(|position| i32::try_from(position).unwrap_or(i32::MAX))
                .collect(),
            variants: lines.iter().map(|l| l.variant_id).collect(),
            products: lines.iter().map(|l| l.product_id).collect(),
            product_names: lines.iter().map(|l| l.product_name.as_str()).collect(),
            variant_names: lines.iter().map(|l| l.variant_name.as_str()).collect(),
            skus: lines.iter().map(|l| l.sku.as_deref()).collect(),
            categories: lines.iter().map(|l| l.category_id).collect(),
            tax_categories: lines.iter().map(|l| l.tax_category.as_str()).collect(),
            modifiers: lines.iter().map(|l| json(&l.modifiers)).collect(),
            notes: lines.iter().map(|l| l.note.as_deref()).collect(),
            quantities: column(&|l| l.priced.quantity),
            base_prices: column(&|l| l.base_price_minor),
            unit_prices: column(&|l| l.priced.unit_price_minor),
            gross: column(&|l| l.priced.gross_minor),
            discounts: lines.iter().map(|l| json(&l.priced.discounts)).collect(),
            order_discounts: column(&|l| l.priced.order_discount_minor),
            line_discounts: column(&|l| l.priced.discount_minor),
            net: column(&|l| l.priced.net_minor),
            taxes: lines.iter().map(|l| json(&l.priced.taxes)).collect(),
            tax: column(&|l| l.priced.tax_minor),
            totals: column(&|l| l.priced.total_minor),
            costs: lines.iter().map(|l| l.cost_minor).collect(),
            tracked: lines.iter().map(|l| l.track_inventory).collect(),
        }
    }

    /// The parameters of [`INSERT_LINES`].
    fn params<'b>(
        &'b self,
        tenant: &'b Uuid,
        order_id: &'b Uuid,
    ) -> [&'b (dyn tokio_postgres::types::ToSql + Sync); 26] {
        [
            tenant,
            order_id,
            &self.ids,
            &self.positions,
            &self.variants,
            &self.products,
            &self.product_names,
            &self.variant_names,
            &self.skus,
            &self.categories,
            &self.tax_categories,
            &self.modifiers,
            &self.notes,
            &self.quantities,
            &self.base_prices,
            &self.unit_prices,
            &self.gross,
            &self.discounts,
            &self.order_discounts,
            &self.line_discounts,
            &self.net,
            &self.taxes,
            &self.tax,
            &self.totals,
            &self.costs,
            &self.tracked,
        ]
    }
}

/// Stores lines and answers them. Only when the order `$2` exists: sent in the same round trip
/// as the order's own insert, which stores nothing on a `client_order_id` conflict.
static INSERT_LINES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO sales.order_lines
                (id, tenant_id, order_id, position, variant_id, product_id, product_name,
                 variant_name, sku, category_id, tax_category, modifiers, note, quantity,
                 base_price_minor, unit_price_minor, gross_minor, discounts,
                 order_discount_minor, discount_minor, net_minor, taxes, tax_minor,
                 total_minor, cost_minor, track_inventory)
         SELECT id, $1, $2, position, variant_id, product_id, product_name, variant_name, sku,
                category_id, tax_category, modifiers, note, quantity, base_price_minor,
                unit_price_minor, gross_minor, discounts, order_discount_minor, discount_minor,
                net_minor, taxes, tax_minor, total_minor, cost_minor, track_inventory
         FROM unnest($3::uuid[], $4::int4[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                     $9::text[], $10::uuid[], $11::text[], $12::jsonb[], $13::text[],
                     $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::jsonb[],
                     $19::int8[], $20::int8[], $21::int8[], $22::jsonb[], $23::int8[],
                     $24::int8[], $25::int8[], $26::bool[])
              AS t(id, position, variant_id, product_id, product_name, variant_name, sku,
                   category_id, tax_category, modifiers, note, quantity, base_price_minor,
                   unit_price_minor, gross_minor, discounts, order_discount_minor,
                   discount_minor, net_minor, taxes, tax_minor, total_minor, cost_minor,
                   track_inventory)
         WHERE EXISTS (SELECT 1 FROM sales.orders o WHERE o.id = $2)
         RETURNING {LINE_COLUMNS}"
    )
});

/// A JSON column value; serialising the module's own types cannot fail.
pub(crate) fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The wire name of a unit enum (`dine_in`).
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match json(value) {
        Value::String(name) => name,
        _ => String::new(),
    }
}
