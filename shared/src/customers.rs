//! Customers (issue 5, schema `customer`): the directory a till searches, validation and
//! normalisation of contact details (lower-cased email, E.164 phone), statistics kept from
//! `sales.order.paid`, and merging a duplicate into its survivor.
//!
//! A merged duplicate stays as a row with `merged_into` (history, and so an event naming it
//! still finds its survivor) but is never answered as a customer: reads and writes of it are
//! 410 `customer_merged` with `merged_into`, and search never lists it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::catalog::patch::nullable;
use crate::catalog::validate;
use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::sales::{OrderPaid, OrderRefunded};

/// The permission to read customers.
pub const READ: &str = "customers:read";
/// The permission to create, change and merge customers.
pub const WRITE: &str = "customers:write";

/// Most addresses one customer keeps, and the largest one (serialized JSON bytes).
pub const MAX_ADDRESSES: usize = 10;
pub const MAX_ADDRESS_BYTES: usize = 2048;
/// Longest `notes`, in characters.
pub const MAX_NOTES_CHARS: usize = 4000;
/// Longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// An e-mail address, trimmed and lower-cased (422 `invalid_email`, field `email`).
pub fn email(value: &str) -> Result<String, Error> {
    crate::tenants::validate::email(value).map_err(|_| {
        invalid(
            "invalid_email",
            "email",
            "`email` must be an e-mail address such as ana@example.com.",
        )
    })
}

/// A phone number in E.164 (`+447946000018`). A number with a leading `+` (or `00`) carries
/// its country; one without is read in `country` (ISO 3166 alpha-2), and refused when none is
/// known. 422 `invalid_phone`, field `phone`.
pub fn phone(value: &str, country: Option<&str>) -> Result<String, Error> {
    let value = value.trim();
    let international = value.starts_with('+') || value.starts_with("00");
    let region = match country {
        _ if international => None,
        Some(code) => Some(
            code.trim()
                .to_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| {
                    invalid(
                        "invalid_phone",
                        "phone",
                        format!(
                            "The tenant's country {code:?} is not a known country code; send the \
                         number in international form (+44…)."
                        ),
                    )
                })?,
        ),
        None => {
            return Err(invalid(
                "invalid_phone",
                "phone",
                "`phone` has no country: send it in international form (+44 20 7946 0018), or \
                 set the tenant's country (settings.country) to read national numbers.",
            ));
        }
    };
    let normalised = if let Some(rest) = value.strip_prefix("00") {
        format!("+{rest}")
    } else {
        value.to_owned()
    };
    let number = phonenumber::parse(region, &normalised)
        .ok()
        .filter(phonenumber::is_valid)
        .ok_or_else(|| {
            invalid(
                "invalid_phone",
                "phone",
                format!("`phone` {value:?} is not a valid phone number."),
            )
        })?;
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The country national phone numbers of the tenant are read in: the tenant's
/// `settings.country`, else the one country all its locations' addresses name.
pub async fn tenant_country(tx: &Transaction<'_>) -> Result<Option<String>, Error> {
    let row = tx
        .query_one_cached(
            "SELECT COALESCE(
                 (SELECT NULLIF(upper(settings->>'country'), '') FROM platform.tenants),
                 (SELECT min(upper(address->>'country')) FROM platform.locations
                  WHERE NULLIF(address->>'country', '') IS NOT NULL
                  HAVING count(DISTINCT upper(address->>'country')) = 1))",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

fn addresses(values: Vec<Value>) -> Result<Value, Error> {
    if values.len() > MAX_ADDRESSES {
        return Err(invalid(
            "invalid_addresses",
            "addresses",
            format!("A customer has at most {MAX_ADDRESSES} addresses."),
        ));
    }
    for (i, value) in values.iter().enumerate() {
        if !value.is_object() || value.to_string().len() > MAX_ADDRESS_BYTES {
            return Err(invalid(
                "invalid_addresses",
                &format!("addresses[{i}]"),
                format!("An address is a JSON object of at most {MAX_ADDRESS_BYTES} bytes."),
            ));
        }
    }
    Ok(Value::Array(values))
}

fn birthday(value: NaiveDate, today: NaiveDate) -> Result<NaiveDate, Error> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    if value < earliest || value > today {
        return Err(invalid(
            "invalid_birthday",
            "birthday",
            "`birthday` must be a past date after 1900-01-01.",
        ));
    }
    Ok(value)
}

fn notes(value: &str) -> Result<String, Error> {
    validate::text("notes", value, MAX_NOTES_CHARS)
        .map_err(|e| invalid("invalid_notes", "notes", e.detail().unwrap_or_default()))
}

/// The body of `POST /v1/customers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub addresses: Vec<Value>,
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub allergens: Vec<String>,
    #[serde(default)]
    pub dietary_preferences: Vec<String>,
    #[serde(default)]
    pub marketing_consent: bool,
}

/// The body of `PATCH /v1/customers/{id}`: absent fields are unchanged, `null` clears the
/// optional ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default)]
    pub addresses: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub birthday: Option<Option<NaiveDate>>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub allergens: Option<Vec<String>>,
    #[serde(default)]
    pub dietary_preferences: Option<Vec<String>>,
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

/// The editable fields of a customer, validated and normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub addresses: Value,
    pub birthday: Option<NaiveDate>,
    pub notes: String,
    pub allergens: Vec<String>,
    pub dietary_preferences: Vec<String>,
    pub marketing_consent: bool,
}

impl Fields {
    /// Whether `phone` needs the tenant's country (a national number).
    pub fn needs_country(phone: Option<&str>) -> bool {
        phone.is_some_and(|p| {
            let p = p.trim();
            !p.starts_with('+') && !p.starts_with("00")
        })
    }

    /// Validates a new customer; `country` reads national phone numbers.
    pub fn new(new: NewCustomer, country: Option<&str>, today: NaiveDate) -> Result<Self, Error> {
        Ok(Self {
            name: validate::name("name", &new.name)?,
            email: new.email.as_deref().map(email).transpose()?,
            phone: new
                .phone
                .as_deref()
                .map(|p| phone(p, country))
                .transpose()?,
            addresses: addresses(new.addresses)?,
            birthday: new.birthday.map(|b| birthday(b, today)).transpose()?,
            notes: notes(new.notes.as_deref().unwrap_or_default())?,
            allergens: validate::tags("allergens", &new.allergens)?,
            dietary_preferences: validate::tags("dietary_preferences", &new.dietary_preferences)?,
            marketing_consent: new.marketing_consent,
        })
    }

    /// The fields of `view`.
    pub fn of(view: &CustomerView) -> Self {
        Self {
            name: view.name.clone(),
            email: view.email.clone(),
            phone: view.phone.clone(),
            addresses: view.addresses.clone(),
            birthday: view.birthday,
            notes: view.notes.clone(),
            allergens: view.allergens.clone(),
            dietary_preferences: view.dietary_preferences.clone(),
            marketing_consent: view.marketing_consent,
        }
    }

    /// `self` with `patch` applied (validated).
    pub fn patched(
        &self,
        patch: CustomerPatch,
        country: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, Error> {
        let mut next = self.clone();
        if let Some(name) = &patch.name {
            next.name = validate::name("name", name)?;
        }
        if let Some(value) = patch.email {
            next.email = value.as_deref().map(email).transpose()?;
        }
        if let Some(value) = patch.phone {
            next.phone = value.as_deref().map(|p| phone(p, country)).transpose()?;
        }
        if let Some(value) = patch.addresses {
            next.addresses = addresses(value)?;
        }
        if let Some(value) = patch.birthday {
            next.birthday = value.map(|b| birthday(b, today)).transpose()?;
        }
        if let Some(value) = &patch.notes {
            next.notes = notes(value)?;
        }
        if let Some(value) = &patch.allergens {
            next.allergens = validate::tags("allergens", value)?;
        }
        if let Some(value) = &patch.dietary_preferences {
            next.dietary_preferences = validate::tags("dietary_preferences", value)?;
        }
        if let Some(value) = patch.marketing_consent {
            next.marketing_consent = value;
        }
        Ok(next)
    }

    /// The changed fields, before and after (for the audit log).
    pub fn diff(&self, next: &Self) -> crate::audit::Changes {
        let mut changes = crate::audit::Changes::new();
        changes.diff("name", json!(self.name), json!(next.name));
        changes.diff("email", json!(self.email), json!(next.email));
        changes.diff("phone", json!(self.phone), json!(next.phone));
        changes.diff("addresses", self.addresses.clone(), next.addresses.clone());
        changes.diff("birthday", json!(self.birthday), json!(next.birthday));
        changes.diff("notes", json!(self.notes), json!(next.notes));
        changes.diff("allergens", json!(self.allergens), json!(next.allergens));
        changes.diff(
            "dietary_preferences",
            json!(self.dietary_preferences),
            json!(next.dietary_preferences),
        );
        changes.diff(
            "marketing_consent",
            json!(self.marketing_consent),
            json!(next.marketing_consent),
        );
        changes
    }
}

/// A customer's order statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub order_count: i64,
    pub lifetime_spend_minor: i64,
    /// `lifetime_spend_minor / order_count`, rounded half up; 0 without orders.
    pub average_order_minor: i64,
    pub first_order_at: Option<DateTime<Utc>>,
    pub last_order_at: Option<DateTime<Utc>>,
}

/// The average order value in minor units, rounded half up.
pub fn average(spend_minor: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let (spend, count) = (i128::from(spend_minor), i128::from(count));
    let avg = (2 * spend + count).div_euclid(2 * count);
    i64::try_from(avg).unwrap_or(i64::MAX)
}

/// A customer as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerView {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub addresses: Value,
    pub birthday: Option<NaiveDate>,
    pub notes: String,
    pub allergens: Vec<String>,
    pub dietary_preferences: Vec<String>,
    pub marketing_consent: bool,
    pub marketing_consent_at: Option<DateTime<Utc>>,
    pub stats: Stats,
    pub merged_into: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns [`CustomerView::from_row`] reads.
pub const COLUMNS: &str = "id, name, email, phone, addresses, birthday, notes, allergens, \
    dietary_preferences, marketing_consent, marketing_consent_at, order_count, \
    lifetime_spend_minor, first_order_at, last_order_at, merged_into, version, created_at, \
    updated_at";

impl CustomerView {
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        let order_count: i64 = row.try_get("order_count")?;
        let spend: i64 = row.try_get("lifetime_spend_minor")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            phone: row.try_get("phone")?,
            addresses: row.try_get("addresses")?,
            birthday: row.try_get("birthday")?,
            notes: row.try_get("notes")?,
            allergens: row.try_get("allergens")?,
            dietary_preferences: row.try_get("dietary_preferences")?,
            marketing_consent: row.try_get("marketing_consent")?,
            marketing_consent_at: row.try_get("marketing_consent_at")?,
            stats: Stats {
                order_count,
                lifetime_spend_minor: spend,
                average_order_minor: average(spend, order_count),
                first_order_at: row.try_get("first_order_at")?,
                last_order_at: row.try_get("last_order_at")?,
            },
            merged_into: row.try_get("merged_into")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The customer id of a path segment; a malformed one is simply not found.
pub fn path_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| not_found())
}

/// 404 for a customer.
pub fn not_found() -> Error {
    Error::not_found("No such customer.")
}

/// 410 `customer_merged`: `id` was merged into `survivor`, which answers for it now.
pub fn merged(id: Uuid, survivor: Uuid) -> Error {
    Error::new(axum::http::StatusCode::GONE, "customer_merged")
        .with_detail(format!(
            "Customer {id} was merged into {survivor}; use that customer."
        ))
        .with_extension("merged_into", survivor.to_string())
}

/// The customer `id` (merged or not), or `None` (RLS: another tenant's is absent).
pub async fn load(tx: &Transaction<'_>, id: Uuid) -> Result<Option<CustomerView>, Error> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM customer.customers WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(CustomerView::from_row)
    .transpose()
}

/// The live customer `id`: 404 when absent, 410 when merged.
pub async fn load_live(tx: &Transaction<'_>, id: Uuid, lock: bool) -> Result<CustomerView, Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let view = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM customer.customers WHERE id = $1{lock}"),
            &[&id],
        )
        .await?
        .as_ref()
        .map(CustomerView::from_row)
        .transpose()?
        .ok_or_else(not_found)?;
    match view.merged_into {
        Some(survivor) => Err(merged(id, survivor)),
        None => Ok(view),
    }
}

/// Whether `id` is a live (not merged) customer of the transaction's tenant.
pub async fn is_live(tx: &Transaction<'_>, id: Uuid) -> Result<bool, Error> {
    Ok(tx
        .query_opt_cached(
            "SELECT 1 FROM customer.customers WHERE id = $1 AND merged_into IS NULL",
            &[&id],
        )
        .await?
        .is_some())
}

/// Locks the customer an event names and answers the live one that stands for it: itself, or
/// the survivor it was merged into (merges are flattened: one hop). `None` when there is no
/// such customer. Lock order is the named row first, so a merge in flight is waited for.
pub async fn lock_for_event(tx: &Transaction<'_>, id: Uuid) -> Result<Option<Uuid>, Error> {
    let Some(row) = tx
        .query_opt_cached(
            "SELECT merged_into FROM customer.customers WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let survivor: Option<Uuid> = row.try_get(0)?;
    match survivor {
        None => Ok(Some(id)),
        Some(survivor) => Ok(tx
            .query_opt_cached(
                "SELECT id FROM customer.customers WHERE id = $1 AND merged_into IS NULL
                 FOR UPDATE",
                &[&survivor],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?),
    }
}

/// Maps the unique violations of the live email and phone to 409 `email_taken` /
/// `phone_taken` naming the field.
pub fn taken(err: tokio_postgres::Error) -> Error {
    let constraint = err
        .as_db_error()
        .and_then(|db| db.constraint())
        .unwrap_or_default()
        .to_owned();
    match constraint.as_str() {
        "customers_email_live" => Error::conflict(
            "email_taken",
            "Another customer of the tenant has this email.",
        )
        .with_extension("field", "email"),
        "customers_phone_live" => Error::conflict(
            "phone_taken",
            "Another customer of the tenant has this phone number.",
        )
        .with_extension("field", "phone"),
        _ => Error::from(err),
    }
}

/// Inserts a new customer of `tenant`.
pub async fn create(
    tx: &Transaction<'_>,
    tenant: Uuid,
    fields: &Fields,
) -> Result<CustomerView, Error> {
    let id = Uuid::now_v7();
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO customer.customers
                        (id, tenant_id, name, email, phone, addresses, birthday, notes, allergens,
                         dietary_preferences, marketing_consent, marketing_consent_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                         CASE WHEN $11 THEN now() END)
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &tenant,
                &fields.name,
                &fields.email,
                &fields.phone,
                &fields.addresses,
                &fields.birthday,
                &fields.notes,
                &fields.allergens,
                &fields.dietary_preferences,
                &fields.marketing_consent,
            ],
        )
        .await
        .map_err(taken)?;
    CustomerView::from_row(&row)
}

/// Stores `next` over customer `id` (bumping its version; the consent date moves when the
/// consent changes).
pub async fn update(tx: &Transaction<'_>, id: Uuid, next: &Fields) -> Result<CustomerView, Error> {
    let row = tx
        .query_one(
            &format!(
                "UPDATE customer.customers
                 SET name = $2, email = $3, phone = $4, addresses = $5, birthday = $6,
                     notes = $7, allergens = $8, dietary_preferences = $9,
                     marketing_consent_at = CASE WHEN marketing_consent IS DISTINCT FROM $10
                                                 THEN now() ELSE marketing_consent_at END,
                     marketing_consent = $10,
                     version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &next.name,
                &next.email,
                &next.phone,
                &next.addresses,
                &next.birthday,
                &next.notes,
                &next.allergens,
                &next.dietary_preferences,
                &next.marketing_consent,
            ],
        )
        .await
        .map_err(taken)?;
    CustomerView::from_row(&row)
}

/// The search text: trimmed, absent when empty, at most [`MAX_SEARCH_CHARS`] characters
/// (422 `invalid_search`).
pub fn search_text(q: Option<&str>) -> Result<Option<String>, Error> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(invalid(
            "invalid_search",
            "q",
            format!("q holds at most {MAX_SEARCH_CHARS} characters."),
        ));
    }
    Ok(Some(q.to_owned()))
}

/// `%q%` for LIKE/ILIKE with `\`, `%` and `_` escaped.
pub fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The digits of a search text that looks like (part of) a phone number: at least three
/// digits and nothing but digits, spaces, `+`, `-`, `.`, `(` and `)`.
pub fn phone_digits(q: &str) -> Option<String> {
    let phoneish = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'));
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    (phoneish && digits.len() >= 3).then_some(digits)
}

/// Live customers, newest first, after `cursor`; with `q`, those whose name is
/// trigram-similar to it or contains it, whose email contains it, or whose phone contains its
/// digits.
pub async fn search(
    tx: &Transaction<'_>,
    q: Option<&str>,
    cursor: Option<Uuid>,
    fetch: i64,
) -> Result<Vec<CustomerView>, Error> {
    let pattern = q.map(contains_pattern);
    let digits = q.and_then(phone_digits).map(|d| format!("%{d}%"));
    let params: [&(dyn ToSql + Sync); 5] = [&q, &pattern, &digits, &cursor, &fetch];
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM customer.customers
                 WHERE merged_into IS NULL
                   AND ($1::text IS NULL
                        OR name OPERATOR(public.%) $1 OR name ILIKE $2 OR email ILIKE $2
                        OR phone LIKE $3)
                   AND ($4::uuid IS NULL OR id < $4)
                 ORDER BY id DESC
                 LIMIT $5"
            ),
            &params,
        )
        .await?;
    rows.iter().map(CustomerView::from_row).collect()
}

/// Counts a paid order in its customer's statistics, once per order whatever the
/// redeliveries (the `customer.order_stats` row is the guard). Answers the customer counted,
/// or `None` (no customer, already counted).
pub async fn record_paid_order(
    tx: &Transaction<'_>,
    tenant: Uuid,
    event: &OrderPaid,
) -> Result<Option<Uuid>, Error> {
    let Some(named) = event.customer_id else {
        return Ok(None);
    };
    let Some(customer) = lock_for_event(tx, named).await? else {
        return Ok(None);
    };
    let inserted = tx
        .execute_cached(
            "INSERT INTO customer.order_stats
                    (tenant_id, order_id, customer_id, amount_minor, ordered_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, order_id) DO NOTHING",
            &[
                &tenant,
                &event.order_id,
                &customer,
                &event.total_minor,
                &event.ordered_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    tx.execute_cached(
        "UPDATE customer.customers
         SET order_count = order_count + 1,
             lifetime_spend_minor = lifetime_spend_minor + $2,
             first_order_at = LEAST(first_order_at, $3),
             last_order_at = GREATEST(last_order_at, $3)
         WHERE id = $1",
        &[&customer, &event.total_minor, &event.ordered_at],
    )
    .await?;
    Ok(Some(customer))
}

/// Takes what an order's refunds gave back off its customer's lifetime spend (the order stays
/// counted). Idempotent: the order's cumulative refunded amount is recorded on its stats row
/// and only the increase is taken off, so redeliveries and out-of-order refunds add up to the
/// total refunded, never more than the order counted. An order never counted (no customer, or
/// its `sales.order.paid` not processed yet) changes nothing. Answers the customer changed.
pub async fn record_refund(
    tx: &Transaction<'_>,
    event: &OrderRefunded,
) -> Result<Option<Uuid>, Error> {
    let Some(counted) = tx
        .query_opt_cached(
            "SELECT customer_id FROM customer.order_stats WHERE order_id = $1",
            &[&event.order_id],
        )
        .await?
    else {
        return Ok(None);
    };
    // The customer row first (as the paid handler and merges lock it), then the stats row.
    let Some(customer) = lock_for_event(tx, counted.try_get(0)?).await? else {
        return Ok(None);
    };
    let row = tx
        .query_one_cached(
            "SELECT amount_minor, refunded_minor FROM customer.order_stats
             WHERE order_id = $1 FOR UPDATE",
            &[&event.order_id],
        )
        .await?;
    let amount: i64 = row.try_get(0)?;
    let before: i64 = row.try_get(1)?;
    let after = event.order_refunded_minor.clamp(0, amount);
    if after <= before {
        return Ok(None);
    }
    tx.execute_cached(
        "UPDATE customer.order_stats SET refunded_minor = $2 WHERE order_id = $1",
        &[&event.order_id, &after],
    )
    .await?;
    tx.execute_cached(
        "UPDATE customer.customers SET lifetime_spend_minor = lifetime_spend_minor - $2
         WHERE id = $1",
        &[&customer, &(after - before)],
    )
    .await?;
    Ok(Some(customer))
}

/// Recomputes customer `id`'s statistics from its counted orders.
pub async fn recompute_stats(tx: &Transaction<'_>, id: Uuid) -> Result<(), Error> {
    tx.execute_cached(
        "UPDATE customer.customers c
         SET order_count = s.n, lifetime_spend_minor = s.spend,
             first_order_at = s.first, last_order_at = s.last
         FROM (SELECT count(*) AS n,
                      COALESCE(sum(amount_minor - refunded_minor), 0)::bigint AS spend,
                      min(ordered_at) AS first, max(ordered_at) AS last
               FROM customer.order_stats WHERE customer_id = $1) s
         WHERE c.id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// What a merge moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merged {
    pub orders_moved: u64,
    pub ledger_entries_moved: u64,
}

/// Merges live customer `duplicate` into live customer `survivor`: the duplicate's orders,
/// counted statistics and loyalty ledger move to the survivor, whose statistics and points are
/// recomputed from them; the survivor takes the duplicate's email, phone and birthday where it
/// has none, and the union of both allergen and dietary lists; the duplicate is marked merged
/// (and whatever was merged into it now points at the survivor).
pub async fn merge(
    tx: &Transaction<'_>,
    survivor: Uuid,
    duplicate: Uuid,
) -> Result<(CustomerView, Merged), Error> {
    if survivor == duplicate {
        return Err(invalid(
            "invalid_duplicate",
            "duplicate_id",
            "A customer cannot be merged into itself.",
        ));
    }
    // Both rows locked in id order, so two opposite merges cannot deadlock.
    let (first, second) = if survivor < duplicate {
        (survivor, duplicate)
    } else {
        (duplicate, survivor)
    };
    let lock = |id| async move {
        match load_live(tx, id, true).await {
            Err(err) if id == duplicate && err.code() == "not_found" => Err(invalid(
                "unknown_duplicate",
                "duplicate_id",
                format!("No customer {duplicate}."),
            )),
            Err(err) if id == duplicate && err.code() == "customer_merged" => Err(Error::conflict(
                "customer_merged",
                format!("Customer {duplicate} is already merged."),
            )
            .with_extension("field", "duplicate_id")),
            other => other,
        }
    };
    let a = lock(first).await?;
    let b = lock(second).await?;
    let (keep, dup) = if a.id == survivor { (a, b) } else { (b, a) };

    let orders_moved = tx
        .execute_cached(
            "UPDATE sales.orders SET customer_id = $1 WHERE customer_id = $2",
            &[&survivor, &duplicate],
        )
        .await?;
    tx.execute_cached(
        "UPDATE customer.order_stats SET customer_id = $1 WHERE customer_id = $2",
        &[&survivor, &duplicate],
    )
    .await?;
    let ledger_entries_moved = crate::loyalty::move_ledger(tx, survivor, duplicate).await?;
    tx.execute_cached(
        "UPDATE customer.customers
         SET merged_into = $1, merged_at = now(), version = version + 1, updated_at = now()
         WHERE id = $2 OR merged_into = $2",
        &[&survivor, &duplicate],
    )
    .await?;
    recompute_stats(tx, survivor).await?;

    let mut next = Fields::of(&keep);
    let took = Fields::of(&dup);
    next.email = next.email.or(took.email);
    next.phone = next.phone.or(took.phone);
    next.birthday = next.birthday.or(took.birthday);
    for (mine, theirs) in [
        (&mut next.allergens, took.allergens),
        (&mut next.dietary_preferences, took.dietary_preferences),
    ] {
        let mut all: std::collections::BTreeSet<String> = mine.drain(..).collect();
        all.extend(theirs);
        *mine = all.into_iter().collect();
    }
    let view = update(tx, survivor, &next).await?;
    Ok((
        view,
        Merged {
            orders_moved,
            ledger_entries_moved,
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(phone("+44 20 7946 0018", None).unwrap(), "+442079460018");
        assert_eq!(phone("0044 20 7946 0018", None).unwrap(), "+442079460018");
        assert_eq!(phone("020 7946 0018", Some("gb")).unwrap(), "+442079460018");
        assert_eq!(phone("06 12 34 56 78", Some("FR")).unwrap(), "+33612345678");
        let err = phone("020 7946 0018", None).unwrap_err();
        assert_eq!(err.code(), "invalid_phone");
        assert_eq!(err.problem().extensions["field"], "phone");
        assert_eq!(phone("+44 12", None).unwrap_err().code(), "invalid_phone");
        assert_eq!(
            phone("hello", Some("GB")).unwrap_err().code(),
            "invalid_phone"
        );
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(email(" Ana@Example.COM ").unwrap(), "ana@example.com");
        let err = email("ana@").unwrap_err();
        assert_eq!(err.code(), "invalid_email");
        assert_eq!(err.problem().extensions["field"], "email");
    }

    #[test]
    fn averages_round_half_up() {
        assert_eq!(average(0, 0), 0);
        assert_eq!(average(1000, 3), 333);
        assert_eq!(average(1001, 2), 501);
        assert_eq!(average(1000, 4), 250);
    }

    #[test]
    fn search_patterns() {
        assert_eq!(contains_pattern("a_b%"), "%a\\_b\\%%");
        assert_eq!(phone_digits("+44 79"), Some("4479".to_owned()));
        assert_eq!(phone_digits("ana"), None);
        assert_eq!(phone_digits("12"), None);
    }

    #[test]
    fn patches_validate_and_clear() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let new: NewCustomer = serde_json::from_value(json!({
            "name": " Ana ", "email": "ANA@example.com", "allergens": ["Peanuts"]
        }))
        .unwrap();
        let fields = Fields::new(new, None, today).unwrap();
        assert_eq!(fields.name, "Ana");
        assert_eq!(fields.email.as_deref(), Some("ana@example.com"));
        assert_eq!(fields.allergens, ["peanuts"]);
        let patch: CustomerPatch = serde_json::from_value(json!({"email": null})).unwrap();
        let next = fields.patched(patch, None, today).unwrap();
        assert_eq!(next.email, None);
        assert_eq!(fields.diff(&next).changed(), ["email"]);
        let patch: CustomerPatch =
            serde_json::from_value(json!({"birthday": "2030-01-01"})).unwrap();
        assert_eq!(
            fields.patched(patch, None, today).unwrap_err().code(),
            "invalid_birthday"
        );
    }
}
