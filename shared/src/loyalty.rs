//! Loyalty (issue 5, schema `customer`): the tenant's program (earning rate, rounding, tiers,
//! rewards, expiry), the points arithmetic (integers only), and the ledger.
//!
//! Every ledger insert updates the customer's `loyalty_accounts` row in the same transaction
//! ([`post`]), so the balance always equals the ledger sum. Earning once per order and clawing
//! back once per refund are structural: partial unique indexes on the ledger (V9).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use uuid::Uuid;

use crate::customers;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::customers::LoyaltyEarned;
use crate::events::sales::{OrderPaid, OrderRefunded};

/// Who may change the program: its rates are the tenant's economics, so the tenant's own
/// settings permission (owner and admin), not the till staff's `customers:write`.
pub const PROGRAM_WRITE: &str = "tenant:write";

/// Most tiers and rewards a program has.
pub const MAX_TIERS: usize = 20;
pub const MAX_REWARDS: usize = 100;
/// Largest rate and multiplier, in whole units.
pub const MAX_RATE: i64 = 1_000_000;
pub const MAX_MULTIPLIER: i64 = 100;
/// Longest expiry, in days.
pub const MAX_EXPIRY_DAYS: i32 = 3650;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// How fractional points round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    Down,
    Nearest,
    Up,
}

impl Rounding {
    fn as_str(self) -> &'static str {
        match self {
            Self::Down => "down",
            Self::Nearest => "nearest",
            Self::Up => "up",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "down" => Ok(Self::Down),
            "nearest" => Ok(Self::Nearest),
            "up" => Ok(Self::Up),
            other => Err(Error::internal(std::io::Error::other(format!(
                "unknown rounding {other:?}"
            )))),
        }
    }

    /// `numerator / denominator` (both ≥ 0, denominator > 0) rounded this way (nearest:
    /// half up).
    pub fn divide(self, numerator: i128, denominator: i128) -> i128 {
        match self {
            Self::Down => numerator.div_euclid(denominator),
            Self::Up => (numerator + denominator - 1).div_euclid(denominator),
            Self::Nearest => (2 * numerator + denominator).div_euclid(2 * denominator),
        }
    }
}

/// A decimal JSON number with at most three decimals, in thousandths: `1.5` → 1500. `None`
/// for anything else (exponents, more decimals, negative).
pub fn milli(number: &Number) -> Option<i64> {
    let text = number.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 3
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut fraction = fraction.to_owned();
    while fraction.len() < 3 {
        fraction.push('0');
    }
    whole.checked_mul(1000)?.checked_add(fraction.parse().ok()?)
}

/// Thousandths as a JSON number (`1500` → `1.5`).
fn from_milli(value: i64) -> Value {
    // Integers up to 2^53 are exact as f64; the rates here are far below.
    #[allow(clippy::cast_precision_loss)]
    let number = value as f64 / 1000.0;
    Number::from_f64(number).map_or(Value::Null, Value::Number)
}

/// A status tier: reached at `threshold` lifetime points, earning `multiplier` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub name: String,
    pub threshold: i64,
    pub multiplier_milli: i64,
}

/// What a reward takes off an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RewardDiscount {
    /// A fixed amount in minor units of the order's currency.
    Fixed { amount_minor: i64 },
    /// A percentage of the order (1 to 100).
    Percent { percent: i64 },
}

/// A reward of the catalog: what it costs in points and what it takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reward {
    pub id: String,
    pub name: String,
    pub points: i64,
    pub discount: RewardDiscount,
}

/// A tier as `PUT /v1/loyalty/program` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    pub name: String,
    pub threshold: i64,
    pub multiplier: Number,
}

fn yes() -> bool {
    true
}

/// The body of `PUT /v1/loyalty/program`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramBody {
    /// Points per unit of the currency (1 EUR, 1 JPY), up to three decimals.
    pub points_per_unit: Number,
    pub rounding: Rounding,
    #[serde(default)]
    pub tiers: Vec<TierBody>,
    #[serde(default)]
    pub rewards: Vec<Reward>,
    /// Earned points lapse after this many days; absent or null: never.
    #[serde(default)]
    pub points_expire_days: Option<i32>,
    #[serde(default = "yes")]
    pub active: bool,
}

/// A validated program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub points_per_unit_milli: i64,
    pub rounding: Rounding,
    pub tiers: Vec<Tier>,
    pub rewards: Vec<Reward>,
    pub points_expire_days: Option<i32>,
    pub active: bool,
}

impl ProgramBody {
    /// Validates everything (422 with `field`): a positive rate of at most three decimals,
    /// tiers with unique names, strictly ascending thresholds (≥ 0) and positive multipliers,
    /// rewards with unique ids, names, positive point costs and sensible discounts, expiry
    /// between 1 and 3650 days.
    pub fn validate(self) -> Result<Program, Error> {
        let rate = milli(&self.points_per_unit)
            .filter(|m| (1..=MAX_RATE * 1000).contains(m))
            .ok_or_else(|| {
                invalid(
                    "invalid_points_per_unit",
                    "points_per_unit",
                    format!(
                        "`points_per_unit` must be a positive number of at most {MAX_RATE} \
                         with at most three decimals."
                    ),
                )
            })?;
        if self.tiers.len() > MAX_TIERS {
            return Err(invalid(
                "invalid_tiers",
                "tiers",
                format!("A program has at most {MAX_TIERS} tiers."),
            ));
        }
        let mut tiers = Vec::with_capacity(self.tiers.len());
        let mut names = BTreeSet::new();
        for (i, tier) in self.tiers.into_iter().enumerate() {
            let name = crate::tenants::validate::name(&format!("tiers[{i}].name"), &tier.name)
                .map_err(|e| {
                    invalid(
                        "invalid_tiers",
                        &format!("tiers[{i}].name"),
                        e.detail().unwrap_or_default(),
                    )
                })?;
            if !names.insert(name.to_lowercase()) {
                return Err(invalid(
                    "invalid_tiers",
                    &format!("tiers[{i}].name"),
                    format!("Tier names must be unique; {name:?} is repeated."),
                ));
            }
            let previous = tiers.last().map(|t: &Tier| t.threshold);
            if tier.threshold < 0 || previous.is_some_and(|p| tier.threshold <= p) {
                return Err(invalid(
                    "invalid_tiers",
                    &format!("tiers[{i}].threshold"),
                    "Tier thresholds are lifetime points (≥ 0), strictly ascending.",
                ));
            }
            let multiplier = milli(&tier.multiplier)
                .filter(|m| (1..=MAX_MULTIPLIER * 1000).contains(m))
                .ok_or_else(|| {
                    invalid(
                        "invalid_tiers",
                        &format!("tiers[{i}].multiplier"),
                        format!(
                            "A tier multiplier is a positive number of at most {MAX_MULTIPLIER} \
                             with at most three decimals."
                        ),
                    )
                })?;
            tiers.push(Tier {
                name,
                threshold: tier.threshold,
                multiplier_milli: multiplier,
            });
        }
        if self.rewards.len() > MAX_REWARDS {
            return Err(invalid(
                "invalid_rewards",
                "rewards",
                format!("A program has at most {MAX_REWARDS} rewards."),
            ));
        }
        let mut ids = BTreeSet::new();
        let mut rewards = Vec::with_capacity(self.rewards.len());
        for (i, reward) in self.rewards.into_iter().enumerate() {
            let field = |name: &str| format!("rewards[{i}].{name}");
            let id = crate::catalog::validate::key("invalid_rewards", &field("id"), &reward.id)?;
            if !ids.insert(id.clone()) {
                return Err(invalid(
                    "duplicate_reward",
                    &field("id"),
                    format!("Reward ids must be unique; {id:?} is repeated."),
                ));
            }
            let name =
                crate::tenants::validate::name(&field("name"), &reward.name).map_err(|e| {
                    invalid(
                        "invalid_rewards",
                        &field("name"),
                        e.detail().unwrap_or_default(),
                    )
                })?;
            if !(1..=1_000_000_000).contains(&reward.points) {
                return Err(invalid(
                    "invalid_rewards",
                    &field("points"),
                    "A reward costs a positive number of points.",
                ));
            }
            match reward.discount {
                RewardDiscount::Fixed { amount_minor }
                    if !(1..=crate::catalog::validate::MAX_MONEY_MINOR).contains(&amount_minor) =>
                {
                    return Err(invalid(
                        "invalid_rewards",
                        &field("discount.amount_minor"),
                        "A fixed discount is a positive amount in minor units.",
                    ));
                }
                RewardDiscount::Percent { percent } if !(1..=100).contains(&percent) => {
                    return Err(invalid(
                        "invalid_rewards",
                        &field("discount.percent"),
                        "A percent discount is 1 to 100.",
                    ));
                }
                _ => {}
            }
            rewards.push(Reward {
                id,
                name,
                points: reward.points,
                discount: reward.discount,
            });
        }
        if let Some(days) = self.points_expire_days
            && !(1..=MAX_EXPIRY_DAYS).contains(&days)
        {
            return Err(invalid(
                "invalid_points_expire_days",
                "points_expire_days",
                format!("`points_expire_days` is 1 to {MAX_EXPIRY_DAYS}, or null for never."),
            ));
        }
        Ok(Program {
            points_per_unit_milli: rate,
            rounding: self.rounding,
            tiers,
            rewards,
            points_expire_days: self.points_expire_days,
            active: self.active,
        })
    }
}

impl Program {
    /// The tier reached at `lifetime_points`: the last whose threshold it meets.
    pub fn tier(&self, lifetime_points: i64) -> Option<&Tier> {
        self.tiers
            .iter()
            .rev()
            .find(|t| lifetime_points >= t.threshold)
    }

    /// The next tier above `lifetime_points`, if any.
    pub fn next_tier(&self, lifetime_points: i64) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.threshold > lifetime_points)
    }

    /// The reward `id` of the catalog.
    pub fn reward(&self, id: &str) -> Option<&Reward> {
        self.rewards.iter().find(|r| r.id == id)
    }

    /// Points earned on `net_minor` of a currency with `exponent` decimals at `tier`'s
    /// multiplier: net / 10^exponent × rate × multiplier, rounded per the program.
    pub fn points(&self, net_minor: i64, exponent: u32, tier: Option<&Tier>) -> i64 {
        if net_minor <= 0 {
            return 0;
        }
        let multiplier = tier.map_or(1000, |t| t.multiplier_milli);
        let numerator =
            i128::from(net_minor) * i128::from(self.points_per_unit_milli) * i128::from(multiplier);
        let denominator = 10_i128.pow(exponent) * 1_000_000;
        i64::try_from(self.rounding.divide(numerator, denominator)).unwrap_or(i64::MAX)
    }
}

/// The number of decimals of an ISO 4217 currency (2 when unknown).
pub fn currency_exponent(code: &str) -> u32 {
    iso_currency::Currency::from_code(code)
        .and_then(iso_currency::Currency::exponent)
        .map_or(2, u32::from)
}

/// A tier as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierView {
    pub name: String,
    pub threshold: i64,
    pub multiplier: Value,
}

impl From<&Tier> for TierView {
    fn from(tier: &Tier) -> Self {
        Self {
            name: tier.name.clone(),
            threshold: tier.threshold,
            multiplier: from_milli(tier.multiplier_milli),
        }
    }
}

/// The program as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgramView {
    pub points_per_unit: Value,
    pub rounding: Rounding,
    pub tiers: Vec<TierView>,
    pub rewards: Vec<Reward>,
    pub points_expire_days: Option<i32>,
    pub active: bool,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// A stored program with its version.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub program: Program,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl Stored {
    pub fn view(&self) -> ProgramView {
        let p = &self.program;
        ProgramView {
            points_per_unit: from_milli(p.points_per_unit_milli),
            rounding: p.rounding,
            tiers: p.tiers.iter().map(TierView::from).collect(),
            rewards: p.rewards.clone(),
            points_expire_days: p.points_expire_days,
            active: p.active,
            version: self.version,
            updated_at: self.updated_at,
        }
    }

    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        let tiers: Value = row.try_get("tiers")?;
        let rewards: Value = row.try_get("rewards")?;
        Ok(Self {
            program: Program {
                points_per_unit_milli: row.try_get("points_per_unit_milli")?,
                rounding: Rounding::parse(row.try_get("rounding")?)?,
                tiers: serde_json::from_value(tiers).map_err(Error::internal)?,
                rewards: serde_json::from_value(rewards).map_err(Error::internal)?,
                points_expire_days: row.try_get("points_expire_days")?,
                active: row.try_get("active")?,
            },
            version: row.try_get("version")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

const PROGRAM_COLUMNS: &str = "points_per_unit_milli, rounding, tiers, rewards, \
    points_expire_days, active, version, updated_at";

/// 404 `no_program`: the tenant has no loyalty program yet.
pub fn no_program() -> Error {
    Error::new(axum::http::StatusCode::NOT_FOUND, "no_program")
        .with_detail("The tenant has no loyalty program; create it with PUT /v1/loyalty/program.")
}

/// The program of the transaction's tenant, if any; `lock` takes it FOR UPDATE.
pub async fn load_program(tx: &Transaction<'_>, lock: bool) -> Result<Option<Stored>, Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    tx.query_opt(
        &format!("SELECT {PROGRAM_COLUMNS} FROM customer.loyalty_programs{lock}"),
        &[],
    )
    .await?
    .as_ref()
    .map(Stored::from_row)
    .transpose()
}

/// Creates or replaces the program of `tenant` (version 1, then +1 per change).
pub async fn save_program(
    tx: &Transaction<'_>,
    tenant: Uuid,
    program: &Program,
) -> Result<Stored, Error> {
    let tiers = serde_json::to_value(&program.tiers).map_err(Error::internal)?;
    let rewards = serde_json::to_value(&program.rewards).map_err(Error::internal)?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO customer.loyalty_programs AS p
                        (tenant_id, points_per_unit_milli, rounding, tiers, rewards,
                         points_expire_days, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (tenant_id) DO UPDATE
                 SET points_per_unit_milli = EXCLUDED.points_per_unit_milli,
                     rounding = EXCLUDED.rounding, tiers = EXCLUDED.tiers,
                     rewards = EXCLUDED.rewards,
                     points_expire_days = EXCLUDED.points_expire_days,
                     active = EXCLUDED.active, version = p.version + 1, updated_at = now()
                 RETURNING {PROGRAM_COLUMNS}"
            ),
            &[
                &tenant,
                &program.points_per_unit_milli,
                &program.rounding.as_str(),
                &tiers,
                &rewards,
                &program.points_expire_days,
                &program.active,
            ],
        )
        .await?;
    Stored::from_row(&row)
}

/// Ledger entry kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Earn,
    Redeem,
    Adjust,
    Expire,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Earn => "earn",
            Self::Redeem => "redeem",
            Self::Adjust => "adjust",
            Self::Expire => "expire",
        }
    }

    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "earn" => Ok(Self::Earn),
            "redeem" => Ok(Self::Redeem),
            "adjust" => Ok(Self::Adjust),
            "expire" => Ok(Self::Expire),
            other => Err(Error::internal(std::io::Error::other(format!(
                "unknown ledger kind {other:?}"
            )))),
        }
    }
}

/// A ledger entry as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: Uuid,
    pub kind: Kind,
    pub points: i64,
    pub order_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    pub reward_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

const ENTRY_COLUMNS: &str =
    "id, kind, points, order_id, refund_id, reward_id, reason, created_at, expires_at";

impl Entry {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            kind: Kind::parse(row.try_get("kind")?)?,
            points: row.try_get("points")?,
            order_id: row.try_get("order_id")?,
            refund_id: row.try_get("refund_id")?,
            reward_id: row.try_get("reward_id")?,
            reason: row.try_get("reason")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    }
}

/// A ledger entry to post.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub customer_id: Uuid,
    pub kind: Kind,
    pub points: i64,
    /// How the entry moves lifetime points (earned, net of claw-backs): `points` for earning
    /// and claw-backs, 0 for redeeming and expiring.
    pub lifetime_delta: i64,
    pub order_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    pub reward_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A customer's points after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Account {
    pub balance: i64,
    pub lifetime_points: i64,
}

/// Inserts `entry` and moves the customer's account by it, in `tx`. `None` when a unique
/// index refused the entry (the order already earned, the refund already clawed back): then
/// nothing changed.
pub async fn post(
    tx: &Transaction<'_>,
    tenant: Uuid,
    entry: &NewEntry<'_>,
) -> Result<Option<(Entry, Account)>, Error> {
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO customer.loyalty_ledger
                        (id, tenant_id, customer_id, kind, points, order_id, refund_id,
                         reward_id, reason, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT DO NOTHING
                 RETURNING {ENTRY_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &tenant,
                &entry.customer_id,
                &entry.kind.as_str(),
                &entry.points,
                &entry.order_id,
                &entry.refund_id,
                &entry.reward_id,
                &entry.reason,
                &entry.expires_at,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let posted = Entry::from_row(&row)?;
    let account = tx
        .query_one(
            "INSERT INTO customer.loyalty_accounts AS a
                    (tenant_id, customer_id, balance, lifetime_points)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, customer_id) DO UPDATE
             SET balance = a.balance + EXCLUDED.balance,
                 lifetime_points = a.lifetime_points + EXCLUDED.lifetime_points,
                 updated_at = now()
             RETURNING balance, lifetime_points",
            &[
                &tenant,
                &entry.customer_id,
                &entry.points,
                &entry.lifetime_delta,
            ],
        )
        .await?;
    Ok(Some((
        posted,
        Account {
            balance: account.try_get(0)?,
            lifetime_points: account.try_get(1)?,
        },
    )))
}

/// The customer's account (zero when it never had an entry); `lock` takes it FOR UPDATE
/// (creating it first, so there is a row to lock).
pub async fn account(
    tx: &Transaction<'_>,
    tenant: Uuid,
    customer: Uuid,
    lock: bool,
) -> Result<Account, Error> {
    if lock {
        tx.execute(
            "INSERT INTO customer.loyalty_accounts (tenant_id, customer_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&tenant, &customer],
        )
        .await?;
    }
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = tx
        .query_opt(
            &format!(
                "SELECT balance, lifetime_points FROM customer.loyalty_accounts
                 WHERE customer_id = $1{lock}"
            ),
            &[&customer],
        )
        .await?;
    Ok(match row {
        Some(row) => Account {
            balance: row.try_get(0)?,
            lifetime_points: row.try_get(1)?,
        },
        None => Account {
            balance: 0,
            lifetime_points: 0,
        },
    })
}

/// Earns the points of a paid order for its customer (once per order). `None` when there is
/// nothing to earn: no customer (or an unknown one), no active program, nothing to earn on,
/// or the order already earned.
pub async fn earn(
    tx: &Transaction<'_>,
    tenant: Uuid,
    event: &OrderPaid,
) -> Result<Option<LoyaltyEarned>, Error> {
    let Some(named) = event.customer_id else {
        return Ok(None);
    };
    let Some(program) = load_program(tx, false)
        .await?
        .filter(|stored| stored.program.active)
    else {
        return Ok(None);
    };
    let Some(customer) = customers::lock_for_event(tx, named).await? else {
        return Ok(None);
    };
    let program = program.program;
    let before = account(tx, tenant, customer, true).await?;
    let tier = program.tier(before.lifetime_points);
    let net = event.subtotal_minor - event.discount_minor;
    let points = program.points(net, currency_exponent(&event.currency), tier);
    if points <= 0 {
        return Ok(None);
    }
    let expires_at = program
        .points_expire_days
        .map(|days| event.paid_at + chrono::Duration::days(i64::from(days)));
    let posted = post(
        tx,
        tenant,
        &NewEntry {
            customer_id: customer,
            kind: Kind::Earn,
            points,
            lifetime_delta: points,
            order_id: Some(event.order_id),
            refund_id: None,
            reward_id: None,
            reason: None,
            expires_at,
        },
    )
    .await?;
    Ok(posted.map(|(entry, account)| LoyaltyEarned {
        customer_id: customer,
        order_id: event.order_id,
        ledger_entry_id: entry.id,
        points,
        balance: account.balance,
        lifetime_points: account.lifetime_points,
        tier: tier.map(|t| t.name.clone()),
        expires_at,
        earned_at: entry.created_at,
    }))
}

/// The points to have clawed back in all from an order that earned `earned`, after
/// `refunded` of `paid` went back: in proportion (half up), never more than was earned.
pub fn clawback_target(earned: i64, refunded: i64, paid: i64) -> i64 {
    if paid <= 0 || refunded >= paid {
        return earned.max(0);
    }
    let target = Rounding::Nearest.divide(
        i128::from(earned.max(0)) * i128::from(refunded.max(0)),
        i128::from(paid),
    );
    i64::try_from(target).unwrap_or(i64::MAX).min(earned)
}

/// Claws back the points an order earned in proportion to what its refunds gave back, once per
/// refund (the refund's id is unique in the ledger). Uses the order's cumulative figures, so
/// refunds arriving out of order still add up to the proportion of the total refunded.
/// Answers the entry, or `None` when nothing was clawed back.
pub async fn claw_back(
    tx: &Transaction<'_>,
    tenant: Uuid,
    event: &OrderRefunded,
) -> Result<Option<(Entry, Account)>, Error> {
    // The earn entry locked: claw-backs of one order run one at a time (and a merge moving it
    // is waited for, so its customer is current).
    let Some(earned) = tx
        .query_opt(
            "SELECT customer_id, points FROM customer.loyalty_ledger
             WHERE order_id = $1 AND kind = 'earn' FOR UPDATE",
            &[&event.order_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let customer: Uuid = earned.try_get(0)?;
    let earned: i64 = earned.try_get(1)?;
    let already: i64 = tx
        .query_one(
            "SELECT COALESCE(-sum(points), 0)::bigint FROM customer.loyalty_ledger
             WHERE order_id = $1 AND refund_id IS NOT NULL",
            &[&event.order_id],
        )
        .await?
        .try_get(0)?;
    let target = clawback_target(earned, event.order_refunded_minor, event.order_paid_minor);
    let points = target - already;
    if points <= 0 {
        return Ok(None);
    }
    post(
        tx,
        tenant,
        &NewEntry {
            customer_id: customer,
            kind: Kind::Adjust,
            points: -points,
            lifetime_delta: -points,
            order_id: Some(event.order_id),
            refund_id: Some(event.refund_id),
            reward_id: None,
            reason: Some("refund"),
            expires_at: None,
        },
    )
    .await
}

/// Debits `points` from live customer `customer` for a redemption on `order` (e.g. a
/// reward's cost), inside the caller's transaction: 409 `insufficient_points` (with `balance`)
/// when the balance does not cover it. The caller applies the discount to the order.
pub async fn redeem(
    tx: &Transaction<'_>,
    tenant: Uuid,
    customer: Uuid,
    order: Option<Uuid>,
    points: i64,
    reward_id: Option<&str>,
) -> Result<(Entry, Account), Error> {
    if points <= 0 {
        return Err(invalid(
            "invalid_points",
            "points",
            "A redemption debits a positive number of points.",
        ));
    }
    let current = account(tx, tenant, customer, true).await?;
    if current.balance < points {
        return Err(Error::conflict(
            "insufficient_points",
            format!(
                "The customer has {} points; this needs {points}.",
                current.balance
            ),
        )
        .with_extension("balance", current.balance)
        .with_extension("points", points));
    }
    post(
        tx,
        tenant,
        &NewEntry {
            customer_id: customer,
            kind: Kind::Redeem,
            points: -points,
            lifetime_delta: 0,
            order_id: order,
            refund_id: None,
            reward_id,
            reason: None,
            expires_at: None,
        },
    )
    .await?
    .ok_or_else(|| Error::internal(std::io::Error::other("redemption entry not inserted")))
}

/// Moves the ledger of `duplicate` to `survivor` and recomputes both accounts from their
/// ledgers (the duplicate's becomes zero). Answers the entries moved.
pub async fn move_ledger(
    tx: &Transaction<'_>,
    survivor: Uuid,
    duplicate: Uuid,
) -> Result<u64, Error> {
    let moved = tx
        .execute(
            "UPDATE customer.loyalty_ledger SET customer_id = $1 WHERE customer_id = $2",
            &[&survivor, &duplicate],
        )
        .await?;
    if moved > 0 {
        tx.execute(
            "DELETE FROM customer.loyalty_accounts WHERE customer_id = $1",
            &[&duplicate],
        )
        .await?;
        tx.execute(
            "INSERT INTO customer.loyalty_accounts AS a
                    (tenant_id, customer_id, balance, lifetime_points)
             SELECT tenant_id, customer_id, sum(points),
                    COALESCE(sum(points) FILTER (WHERE kind = 'earn' OR refund_id IS NOT NULL), 0)
             FROM customer.loyalty_ledger WHERE customer_id = $1
             GROUP BY tenant_id, customer_id
             ON CONFLICT (tenant_id, customer_id) DO UPDATE
             SET balance = EXCLUDED.balance, lifetime_points = EXCLUDED.lifetime_points,
                 updated_at = now()",
            &[&survivor],
        )
        .await?;
    }
    Ok(moved)
}

/// Expires, for every customer of the transaction's tenant, the earned points whose
/// `expires_at` has passed and that were not already used: first in, first out (redemptions
/// and earlier expiries consume the oldest points first). Never takes the balance below zero.
/// Answers (customers touched, points expired).
pub async fn expire_due(
    tx: &Transaction<'_>,
    tenant: Uuid,
    now: DateTime<Utc>,
) -> Result<(u64, i64), Error> {
    let rows = tx
        .query(
            "WITH earned AS (
                 SELECT e.customer_id,
                        e.points + COALESCE((
                            SELECT sum(c.points) FROM customer.loyalty_ledger c
                            WHERE c.order_id = e.order_id AND c.refund_id IS NOT NULL), 0)
                            AS net
                 FROM customer.loyalty_ledger e
                 WHERE e.kind = 'earn' AND e.expires_at <= $1
             ),
             lapsed AS (
                 SELECT customer_id, sum(net) AS points FROM earned GROUP BY customer_id
             ),
             used AS (
                 SELECT customer_id, -sum(points) AS points FROM customer.loyalty_ledger
                 WHERE kind IN ('redeem', 'expire') GROUP BY customer_id
             )
             SELECT l.customer_id,
                    LEAST(l.points - COALESCE(u.points, 0), a.balance)::bigint AS due
             FROM lapsed l
             JOIN customer.loyalty_accounts a ON a.customer_id = l.customer_id
             LEFT JOIN used u ON u.customer_id = l.customer_id
             WHERE LEAST(l.points - COALESCE(u.points, 0), a.balance) > 0",
            &[&now],
        )
        .await?;
    let mut customers = 0;
    let mut total = 0;
    for row in rows {
        let customer: Uuid = row.try_get(0)?;
        let due: i64 = row.try_get(1)?;
        // Locks the account so a concurrent earn or redemption is serialised with this.
        let current = account(tx, tenant, customer, true).await?;
        let due = due.min(current.balance);
        if due <= 0 {
            continue;
        }
        post(
            tx,
            tenant,
            &NewEntry {
                customer_id: customer,
                kind: Kind::Expire,
                points: -due,
                lifetime_delta: 0,
                order_id: None,
                refund_id: None,
                reward_id: None,
                reason: Some("points expired"),
                expires_at: None,
            },
        )
        .await?;
        customers += 1;
        total += due;
    }
    Ok((customers, total))
}

/// A customer's ledger, newest first, after `cursor`.
pub async fn history(
    tx: &Transaction<'_>,
    customer: Uuid,
    cursor: Option<Uuid>,
    fetch: i64,
) -> Result<Vec<Entry>, Error> {
    let rows = tx
        .query(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM customer.loyalty_ledger
                 WHERE customer_id = $1 AND ($2::uuid IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3"
            ),
            &[&customer, &cursor, &fetch],
        )
        .await?;
    rows.iter().map(Entry::from_row).collect()
}

/// Gives back the points redeemed on order `order` (it was cancelled, so its rewards were never
/// enjoyed): one `adjust` entry per redemption. Called once per order, by the cancellation,
/// which the order's state machine allows only once.
pub async fn return_redeemed_points(
    tx: &Transaction<'_>,
    tenant: Uuid,
    order: Uuid,
) -> Result<(), Error> {
    let redeemed = tx
        .query(
            "SELECT customer_id, points, reward_id FROM customer.loyalty_ledger
             WHERE order_id = $1 AND kind = 'redeem' ORDER BY id",
            &[&order],
        )
        .await?;
    for row in &redeemed {
        let points: i64 = row.try_get("points")?;
        let reward: Option<String> = row.try_get("reward_id")?;
        post(
            tx,
            tenant,
            &NewEntry {
                customer_id: row.try_get("customer_id")?,
                kind: Kind::Adjust,
                points: -points,
                lifetime_delta: 0,
                order_id: Some(order),
                refund_id: None,
                reward_id: reward.as_deref(),
                reason: Some("order cancelled: redeemed points returned"),
                expires_at: None,
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Result<Program, Error> {
        serde_json::from_value::<ProgramBody>(value)
            .unwrap()
            .validate()
    }

    fn program() -> Program {
        body(json!({
            "points_per_unit": 1,
            "rounding": "down",
            "tiers": [{"name": "Base", "threshold": 0, "multiplier": 1},
                      {"name": "Gold", "threshold": 100, "multiplier": 1.5}],
            "rewards": [{"id": "free-coffee", "name": "Free coffee", "points": 50,
                         "discount": {"type": "fixed", "amount_minor": 380}}]
        }))
        .unwrap()
    }

    #[test]
    fn decimals_are_read_exactly_in_thousandths() {
        let m = |v: Value| milli(&serde_json::from_value::<Number>(v).unwrap());
        assert_eq!(m(json!(1)), Some(1000));
        assert_eq!(m(json!(1.5)), Some(1500));
        assert_eq!(m(json!(0.1)), Some(100));
        assert_eq!(m(json!(2.125)), Some(2125));
        assert_eq!(m(json!(0.0001)), None);
        assert_eq!(m(json!(-1)), None);
        assert_eq!(from_milli(1500), json!(1.5));
    }

    #[test]
    fn points_follow_rate_multiplier_and_rounding() {
        let p = program();
        let gold = p.tier(150);
        assert_eq!(gold.map(|t| t.name.as_str()), Some("Gold"));
        assert_eq!(p.tier(99).map(|t| t.name.as_str()), Some("Base"));
        assert_eq!(p.next_tier(99).map(|t| t.threshold), Some(100));
        // 12.99 EUR at 1 point per EUR: 12 down, 13 nearest/up; 19.48 at Gold (x1.5).
        assert_eq!(p.points(1299, 2, p.tier(0)), 12);
        assert_eq!(p.points(1299, 2, gold), 19);
        let nearest = Program {
            rounding: Rounding::Nearest,
            ..p.clone()
        };
        assert_eq!(nearest.points(1250, 2, None), 13);
        assert_eq!(nearest.points(1249, 2, None), 12);
        let up = Program {
            rounding: Rounding::Up,
            ..p.clone()
        };
        assert_eq!(up.points(1201, 2, None), 13);
        assert_eq!(up.points(1200, 2, None), 12);
        // Zero-decimal currencies: 1000 JPY at 1 point per yen.
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("EUR"), 2);
        assert_eq!(currency_exponent("BHD"), 3);
        assert_eq!(p.points(1000, 0, None), 1000);
        assert_eq!(p.points(0, 2, None), 0);
        assert_eq!(p.points(-5, 2, None), 0);
        assert_eq!(p.reward("free-coffee").map(|r| r.points), Some(50));
        assert!(p.reward("nope").is_none());
    }

    #[test]
    fn clawbacks_are_proportional_and_capped() {
        assert_eq!(clawback_target(100, 500, 1000), 50);
        assert_eq!(clawback_target(100, 1000, 1000), 100);
        assert_eq!(clawback_target(100, 2000, 1000), 100);
        assert_eq!(clawback_target(7, 1, 3), 2);
        assert_eq!(clawback_target(100, 0, 1000), 0);
        assert_eq!(clawback_target(100, 10, 0), 100);
    }

    #[test]
    fn programs_are_validated() {
        let code = |v: Value| {
            let err = body(v).unwrap_err();
            (
                err.code().to_owned(),
                err.problem().extensions["field"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        };
        let base = || {
            json!({"points_per_unit": 1, "rounding": "down",
                   "tiers": [{"name": "A", "threshold": 0, "multiplier": 1},
                             {"name": "B", "threshold": 10, "multiplier": 2}],
                   "rewards": [{"id": "r1", "name": "R", "points": 5,
                                "discount": {"type": "percent", "percent": 10}}]})
        };
        assert!(body(base()).is_ok());
        let mut v = base();
        v["points_per_unit"] = json!(0);
        assert_eq!(code(v).0, "invalid_points_per_unit");
        let mut v = base();
        v["tiers"][1]["threshold"] = json!(0);
        assert_eq!(
            code(v),
            ("invalid_tiers".into(), "tiers[1].threshold".into())
        );
        let mut v = base();
        v["tiers"][1]["multiplier"] = json!(0);
        assert_eq!(
            code(v),
            ("invalid_tiers".into(), "tiers[1].multiplier".into())
        );
        let mut v = base();
        v["tiers"][1]["name"] = json!("a");
        assert_eq!(code(v), ("invalid_tiers".into(), "tiers[1].name".into()));
        let mut v = base();
        let first = v["rewards"][0].clone();
        v["rewards"].as_array_mut().unwrap().push(first);
        assert_eq!(code(v), ("duplicate_reward".into(), "rewards[1].id".into()));
        let mut v = base();
        v["rewards"][0]["discount"] = json!({"type": "percent", "percent": 101});
        assert_eq!(
            code(v),
            (
                "invalid_rewards".into(),
                "rewards[0].discount.percent".into()
            )
        );
        let mut v = base();
        v["rewards"][0]["points"] = json!(0);
        assert_eq!(code(v).0, "invalid_rewards");
        let mut v = base();
        v["points_expire_days"] = json!(0);
        assert_eq!(code(v).0, "invalid_points_expire_days");
    }
}
