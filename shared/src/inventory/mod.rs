//! Stock per (variant, location): the projection (`inventory.stock`), the append-only ledger
//! (`inventory.movements`) and holds (`inventory.reservations`). Every change goes through
//! [`record`], [`record_counts`] or [`reserve`], inside the caller's tenant transaction, so an
//! order decrements stock in the same transaction that creates it.
//!
//! The rules, kept here once:
//! - **No oversell with `block`.** The rows of every (variant, location) touched are first
//!   locked in one ordered statement (no deadlocks between two multi-line orders), then the
//!   whole change is one conditional `UPDATE`: a pair whose level after the change would fall
//!   below its unexpired holds is not updated, and the call fails with 409
//!   `insufficient_stock` naming each short pair. Quantities of the same pair are summed first.
//!   `allow_negative` pairs (a till must never refuse a sale because a count was wrong) and
//!   movements that do not sell (receive, waste, adjust...) are never refused.
//! - **Counts.** A physical count sets the level as of its client time `occurred_at`;
//!   movements dated after it still apply, movements dated before it (an offline till syncing
//!   late) are recorded with `delta` 0 since the count already saw them.
//! - **Ledger = projection.** Each movement stores its `delta` (effect on `on_hand`), so the
//!   ledger's sum of `delta` equals `on_hand` for every pair, always.
//! - **Low stock once per crossing.** A pair that falls to or below its reorder point emits
//!   `inventory.stock.low` once; it fires again only after rising above the point.
//! - **Holds expire by themselves.** `reserved` is summed from active holds whose `expires_at`
//!   is in the future whenever it is read, so no job must run for an expired hold to stop
//!   counting.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::Outbox;
use crate::events::catalog::StockLow;

pub mod api;

/// The permission to read stock.
pub const READ: &str = "inventory:read";
/// The permission to move stock.
pub const WRITE: &str = "inventory:write";

/// Largest quantity of one movement or hold.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The kinds of movement of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Receive,
    Sale,
    Return,
    Adjust,
    Waste,
    TransferOut,
    TransferIn,
    Count,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receive => "receive",
            Self::Sale => "sale",
            Self::Return => "return",
            Self::Adjust => "adjust",
            Self::Waste => "waste",
            Self::TransferOut => "transfer_out",
            Self::TransferIn => "transfer_in",
            Self::Count => "count",
        }
    }

    /// The signed change of a movement of this kind with the magnitude `quantity` (an
    /// `adjust` is signed as given).
    pub fn signed(self, quantity: i64) -> i64 {
        match self {
            Self::Sale | Self::Waste | Self::TransferOut => -quantity,
            _ => quantity,
        }
    }

    /// Whether the oversell policy applies: stock leaving to a customer or another location.
    pub fn sells(self) -> bool {
        matches!(self, Self::Sale | Self::TransferOut)
    }
}

/// What a movement refers to: an order, a transfer, a refund...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `[a-z_]{1,40}`: `order`, `transfer`, `refund`, `adjustment`...
    pub kind: String,
    pub id: String,
}

/// One movement to record. `quantity` is a positive magnitude for every kind but `adjust`,
/// whose non-zero `quantity` is signed. Counts go through [`record_counts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub kind: Kind,
    pub quantity: i64,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub reference: Option<Reference>,
}

/// One physical count: `counted` units at the location as of `occurred_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub counted: i64,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// The count sheet (`count`/<id>) the ledger row names, so its lines can be found again.
    pub reference: Option<Reference>,
}

/// A ledger row as recorded (and as `GET /v1/inventory/movements` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub kind: Kind,
    /// Signed as it moved stock; for a count, the counted level.
    pub quantity: i64,
    /// The effect on `on_hand`.
    pub delta: i64,
    pub on_hand_after: i64,
    pub occurred_at: DateTime<Utc>,
}

/// Who records, and which hold (if any) the change consumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    pub actor: Option<Uuid>,
    /// A reservation this change fulfils: its holds stop counting against it and it becomes
    /// `consumed` (409 `reservation_not_active` if it is not active).
    pub consumes: Option<Uuid>,
}

type Pair = (Uuid, Uuid);

/// A locked projection row.
#[derive(Debug, Clone)]
struct Level {
    on_hand: i64,
    reorder_point: Option<i64>,
    reorder_quantity: Option<i64>,
    below_reorder: bool,
    last_count_at: Option<DateTime<Utc>>,
}

fn invalid(code: &'static str, index: usize, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("line", index)
}

/// Records `movements` (in order) and updates the projection; see the module rules. Fails
/// with 422 `invalid_quantity`, `unknown_variant`, `unknown_location`, 409
/// `insufficient_stock` (with `shortages`) or `reservation_not_active`; on failure the
/// caller's transaction must be dropped. Sales of variants that do not track inventory are
/// skipped. Emits `inventory.stock.low` into `outbox` for every pair crossing its point.
pub async fn record(
    tx: &Transaction<'_>,
    tenant: Uuid,
    movements: &[Movement],
    context: Context,
    outbox: &mut Outbox,
) -> Result<Vec<Recorded>, Error> {
    for (index, movement) in movements.iter().enumerate() {
        let ok = match movement.kind {
            Kind::Adjust => movement.quantity != 0 && movement.quantity.abs() <= MAX_QUANTITY,
            Kind::Count => false,
            _ => (1..=MAX_QUANTITY).contains(&movement.quantity),
        };
        if !ok {
            return Err(invalid(
                "invalid_quantity",
                index,
                format!(
                    "Line {index}: a {} needs a quantity of 1 to {MAX_QUANTITY}{}.",
                    movement.kind.as_str(),
                    if movement.kind == Kind::Adjust {
                        " (signed, not 0)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    let untracked =
        check_references(tx, movements.iter().map(|m| (m.variant_id, m.location_id))).await?;
    let movements: Vec<&Movement> = movements
        .iter()
        .filter(|m| !(m.kind == Kind::Sale && untracked.contains(&m.variant_id)))
        .collect();
    apply(tx, tenant, &movements, context, outbox).await
}

/// Sells stock for an order just priced in `tx`: as [`record`], without looking the variants
/// and the location up again (pricing read them in this transaction, and `sales` holds only
/// lines of variants that track inventory). Two statements fewer on every order a till sends.
pub async fn record_priced_sales(
    tx: &Transaction<'_>,
    tenant: Uuid,
    sales: &[Movement],
    context: Context,
    outbox: &mut Outbox,
) -> Result<Vec<Recorded>, Error> {
    if let Some(index) = sales
        .iter()
        .position(|m| m.kind != Kind::Sale || !(1..=MAX_QUANTITY).contains(&m.quantity))
    {
        return Err(invalid(
            "invalid_quantity",
            index,
            format!("Line {index}: a sale needs a quantity of 1 to {MAX_QUANTITY}."),
        ));
    }
    let sales: Vec<&Movement> = sales.iter().collect();
    apply(tx, tenant, &sales, context, outbox).await
}

/// The part of [`record`] after the checks: consume the hold, lock, apply, write the ledger.
async fn apply(
    tx: &Transaction<'_>,
    tenant: Uuid,
    movements: &[&Movement],
    context: Context,
    outbox: &mut Outbox,
) -> Result<Vec<Recorded>, Error> {
    // The hold is consumed even when nothing is left to record (an order of untracked
    // variants only), or it would keep counting until it expires.
    if let Some(reservation) = context.consumes {
        let consumed = tx
            .execute_cached(
                "UPDATE inventory.reservations SET status = 'consumed', closed_at = now()
                 WHERE reservation_id = $1 AND status = 'active'",
                &[&reservation],
            )
            .await?;
        if consumed == 0 {
            return Err(Error::conflict(
                "reservation_not_active",
                format!("Reservation {reservation} is not active (released, consumed or unknown)."),
            ));
        }
    }
    if movements.is_empty() {
        return Ok(Vec::new());
    }
    let mut levels = lock(
        tx,
        tenant,
        movements.iter().map(|m| (m.variant_id, m.location_id)),
    )
    .await?;
    let before = levels.clone();

    // Effects in Rust (the rows are locked, so what was read is what is there).
    let mut recorded = Vec::with_capacity(movements.len());
    let mut sells: BTreeMap<Pair, bool> = BTreeMap::new();
    for movement in movements {
        let pair = (movement.variant_id, movement.location_id);
        let level = levels
            .get_mut(&pair)
            .ok_or_else(|| Error::internal(std::io::Error::other("stock row not locked")))?;
        let signed = movement.kind.signed(movement.quantity);
        let superseded = level
            .last_count_at
            .is_some_and(|counted| movement.occurred_at <= counted);
        let delta = if superseded { 0 } else { signed };
        level.on_hand = level
            .on_hand
            .checked_add(delta)
            .ok_or_else(|| invalid("invalid_quantity", 0, "Stock level out of range."))?;
        if movement.kind.sells() && delta < 0 {
            sells.insert(pair, true);
        }
        recorded.push(Recorded {
            id: Uuid::now_v7(),
            variant_id: movement.variant_id,
            location_id: movement.location_id,
            kind: movement.kind,
            quantity: signed,
            delta,
            on_hand_after: level.on_hand,
            occurred_at: movement.occurred_at,
        });
    }

    let pairs: Vec<Pair> = levels.keys().copied().collect();
    let variant_ids: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    let location_ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    let deltas: Vec<i64> = pairs
        .iter()
        .map(|p| levels[p].on_hand - before[p].on_hand)
        .collect();
    let checked: Vec<bool> = pairs.iter().map(|p| sells.contains_key(p)).collect();
    // The one conditional statement: a selling pair that would end below its live holds (and
    // is not allowed to go negative) is left out, and the call fails. The ledger goes in the
    // same round trip (the rows stay locked for less time); a failure undoes both, as it
    // aborts the caller's transaction.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&tenant, &variant_ids, &location_ids, &deltas, &checked];
    let update = tx.query_cached(
        "UPDATE inventory.stock s
             SET on_hand = s.on_hand + d.delta,
                 below_reorder = (s.reorder_point IS NOT NULL
                                  AND s.on_hand + d.delta <= s.reorder_point),
                 version = s.version + 1, updated_at = now()
             FROM unnest($2::uuid[], $3::uuid[], $4::int8[], $5::bool[])
                  AS d(variant_id, location_id, delta, checked)
             WHERE s.tenant_id = $1 AND s.variant_id = d.variant_id
               AND s.location_id = d.location_id
               AND (NOT d.checked OR s.oversell = 'allow_negative'
                    OR s.on_hand + d.delta >= (
                        SELECT COALESCE(sum(r.quantity), 0)::int8 FROM inventory.reservations r
                        WHERE r.tenant_id = s.tenant_id AND r.variant_id = s.variant_id
                          AND r.location_id = s.location_id AND r.status = 'active'
                          AND r.expires_at > now()))
             RETURNING s.variant_id, s.location_id",
        &params,
    );
    let ledger = insert_ledger(tx, tenant, context.actor, &recorded, movements);
    let (updated, ()) = futures::try_join!(update, ledger)?;
    if updated.len() != pairs.len() {
        let done: Vec<Pair> = updated
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, Error>>()?;
        let short: Vec<Pair> = pairs.into_iter().filter(|p| !done.contains(p)).collect();
        return Err(shortage(tx, &short, &before, &levels).await?);
    }
    emit_low_stock(tx, tenant, &before, &levels, outbox).await?;
    Ok(recorded)
}

/// Records physical counts; see the module rules. 422 `invalid_quantity` for a negative
/// count, `unknown_variant`, `unknown_location`.
pub async fn record_counts(
    tx: &Transaction<'_>,
    tenant: Uuid,
    counts: &[Count],
    context: Context,
    outbox: &mut Outbox,
) -> Result<Vec<Recorded>, Error> {
    for (index, count) in counts.iter().enumerate() {
        if !(0..=MAX_QUANTITY).contains(&count.counted) {
            return Err(invalid(
                "invalid_quantity",
                index,
                format!("Line {index}: a count is 0 to {MAX_QUANTITY}."),
            ));
        }
    }
    check_references(tx, counts.iter().map(|c| (c.variant_id, c.location_id))).await?;
    let mut levels = lock(
        tx,
        tenant,
        counts.iter().map(|c| (c.variant_id, c.location_id)),
    )
    .await?;
    let before = levels.clone();
    let mut ordered: Vec<&Count> = counts.iter().collect();
    ordered.sort_by_key(|c| c.occurred_at);
    let mut recorded = Vec::with_capacity(counts.len());
    for count in ordered {
        let pair = (count.variant_id, count.location_id);
        let level = levels
            .get_mut(&pair)
            .ok_or_else(|| Error::internal(std::io::Error::other("stock row not locked")))?;
        let superseded = level
            .last_count_at
            .is_some_and(|counted| count.occurred_at < counted);
        let delta = if superseded {
            0
        } else {
            // Movements dated after the count still apply on top of it.
            let later: i64 = tx
                .query_one_cached(
                    "SELECT COALESCE(sum(quantity), 0)::int8 FROM inventory.movements
                     WHERE tenant_id = $1 AND variant_id = $2 AND location_id = $3
                       AND kind <> 'count' AND occurred_at > $4",
                    &[
                        &tenant,
                        &count.variant_id,
                        &count.location_id,
                        &count.occurred_at,
                    ],
                )
                .await?
                .try_get(0)?;
            level.last_count_at = Some(count.occurred_at);
            count.counted.saturating_add(later) - level.on_hand
        };
        level.on_hand += delta;
        recorded.push(Recorded {
            id: Uuid::now_v7(),
            variant_id: count.variant_id,
            location_id: count.location_id,
            kind: Kind::Count,
            quantity: count.counted,
            delta,
            on_hand_after: level.on_hand,
            occurred_at: count.occurred_at,
        });
    }
    let pairs: Vec<Pair> = levels.keys().copied().collect();
    let variant_ids: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    let location_ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    let on_hand: Vec<i64> = pairs.iter().map(|p| levels[p].on_hand).collect();
    let counted_at: Vec<Option<DateTime<Utc>>> =
        pairs.iter().map(|p| levels[p].last_count_at).collect();
    tx.execute_cached(
        "UPDATE inventory.stock s
         SET on_hand = d.on_hand, last_count_at = d.counted_at,
             below_reorder = (s.reorder_point IS NOT NULL AND d.on_hand <= s.reorder_point),
             version = s.version + 1, updated_at = now()
         FROM unnest($2::uuid[], $3::uuid[], $4::int8[], $5::timestamptz[])
              AS d(variant_id, location_id, on_hand, counted_at)
         WHERE s.tenant_id = $1 AND s.variant_id = d.variant_id AND s.location_id = d.location_id",
        &[&tenant, &variant_ids, &location_ids, &on_hand, &counted_at],
    )
    .await?;
    // `recorded` follows the same stable time order as `ordered` did.
    let mut by_time: Vec<&Count> = counts.iter().collect();
    by_time.sort_by_key(|c| c.occurred_at);
    let reasons: Vec<Option<String>> = by_time.iter().map(|c| c.reason.clone()).collect();
    let references: Vec<Option<&Reference>> =
        by_time.iter().map(|c| c.reference.as_ref()).collect();
    insert_rows(tx, tenant, context.actor, &recorded, &reasons, &references).await?;
    emit_low_stock(tx, tenant, &before, &levels, outbox).await?;
    Ok(recorded)
}

/// Variants of the movements that exist for the tenant (RLS hides the others), and locations
/// likewise; returns the ids of variants that do not track inventory.
async fn check_references(
    tx: &Transaction<'_>,
    pairs: impl Iterator<Item = Pair>,
) -> Result<Vec<Uuid>, Error> {
    let pairs: Vec<Pair> = pairs.collect();
    let mut variant_ids: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    variant_ids.sort_unstable();
    variant_ids.dedup();
    let mut location_ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    location_ids.sort_unstable();
    location_ids.dedup();
    let variant_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&variant_ids];
    let location_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&location_ids];
    let (variants, locations) = futures::try_join!(
        tx.query_cached(
            "SELECT id, track_inventory FROM catalog.variants WHERE id = ANY($1)",
            &variant_params,
        ),
        tx.query_cached(
            "SELECT id FROM platform.locations WHERE id = ANY($1)",
            &location_params,
        ),
    )?;
    let mut untracked = Vec::new();
    let mut found = Vec::new();
    for row in &variants {
        let id: Uuid = row.try_get(0)?;
        if !row.try_get::<_, bool>(1)? {
            untracked.push(id);
        }
        found.push(id);
    }
    if let Some(missing) = variant_ids.iter().find(|id| !found.contains(id)) {
        return Err(
            Error::unprocessable("unknown_variant", format!("No variant {missing}."))
                .with_extension("variant_id", missing.to_string()),
        );
    }
    let found: Vec<Uuid> = locations
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(missing) = location_ids.iter().find(|id| !found.contains(id)) {
        return Err(
            Error::unprocessable("unknown_location", format!("No location {missing}."))
                .with_extension("location_id", missing.to_string()),
        );
    }
    Ok(untracked)
}

/// Creates the missing projection rows of `pairs`, then locks them all in (variant, location)
/// order — one statement, the same order for every caller, so two orders touching the same
/// pairs queue instead of deadlocking.
/// Locks the stock rows of pairs (`$2`, `$3`) of tenant `$1`, in key order (no deadlocks).
const LOCK_STOCK: &str = "SELECT s.variant_id, s.location_id, s.on_hand, s.reorder_point,
            s.reorder_quantity, s.below_reorder, s.last_count_at
     FROM inventory.stock s
     JOIN unnest($2::uuid[], $3::uuid[]) AS t(v, l)
       ON s.variant_id = t.v AND s.location_id = t.l
     WHERE s.tenant_id = $1
     ORDER BY s.variant_id, s.location_id
     FOR UPDATE OF s";

async fn lock(
    tx: &Transaction<'_>,
    tenant: Uuid,
    pairs: impl Iterator<Item = Pair>,
) -> Result<BTreeMap<Pair, Level>, Error> {
    let mut pairs: Vec<Pair> = pairs.collect();
    pairs.sort_unstable();
    pairs.dedup();
    let variant_ids: Vec<Uuid> = pairs.iter().map(|p| p.0).collect();
    let location_ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&tenant, &variant_ids, &location_ids];
    let mut rows = tx.query_cached(LOCK_STOCK, &params).await?;
    if rows.len() < pairs.len() {
        // A pair never stocked before has no row yet: create it (at zero) and lock again.
        // Only then, so the common case is one statement.
        tx.execute_cached(
            "INSERT INTO inventory.stock (tenant_id, variant_id, location_id)
             SELECT $1, v, l FROM unnest($2::uuid[], $3::uuid[]) AS t(v, l)
             ON CONFLICT DO NOTHING",
            &params,
        )
        .await?;
        rows = tx.query_cached(LOCK_STOCK, &params).await?;
    }
    let mut levels = BTreeMap::new();
    for row in &rows {
        levels.insert(
            (row.try_get(0)?, row.try_get(1)?),
            Level {
                on_hand: row.try_get(2)?,
                reorder_point: row.try_get(3)?,
                reorder_quantity: row.try_get(4)?,
                below_reorder: row.try_get(5)?,
                last_count_at: row.try_get(6)?,
            },
        );
    }
    Ok(levels)
}

/// 409 `insufficient_stock` naming every short pair with what was asked and what is left.
async fn shortage(
    tx: &Transaction<'_>,
    short: &[Pair],
    before: &BTreeMap<Pair, Level>,
    after: &BTreeMap<Pair, Level>,
) -> Result<Error, Error> {
    let mut shortages = Vec::new();
    for pair in short {
        let reserved: i64 = tx
            .query_one_cached(
                "SELECT COALESCE(sum(quantity), 0)::int8 FROM inventory.reservations
                 WHERE variant_id = $1 AND location_id = $2 AND status = 'active'
                   AND expires_at > now()",
                &[&pair.0, &pair.1],
            )
            .await?
            .try_get(0)?;
        let on_hand = before.get(pair).map_or(0, |l| l.on_hand);
        let requested = on_hand - after.get(pair).map_or(on_hand, |l| l.on_hand);
        shortages.push(serde_json::json!({
            "variant_id": pair.0,
            "location_id": pair.1,
            "requested": requested,
            "available": on_hand - reserved,
        }));
    }
    Ok(Error::conflict(
        "insufficient_stock",
        "Not enough stock for every line; nothing was changed.",
    )
    .with_extension("shortages", serde_json::Value::Array(shortages)))
}

async fn insert_ledger(
    tx: &Transaction<'_>,
    tenant: Uuid,
    actor: Option<Uuid>,
    recorded: &[Recorded],
    movements: &[&Movement],
) -> Result<(), Error> {
    let reasons: Vec<Option<String>> = movements.iter().map(|m| m.reason.clone()).collect();
    let references: Vec<Option<&Reference>> =
        movements.iter().map(|m| m.reference.as_ref()).collect();
    insert_rows(tx, tenant, actor, recorded, &reasons, &references).await
}

async fn insert_rows(
    tx: &Transaction<'_>,
    tenant: Uuid,
    actor: Option<Uuid>,
    recorded: &[Recorded],
    reasons: &[Option<String>],
    references: &[Option<&Reference>],
) -> Result<(), Error> {
    let ids: Vec<Uuid> = recorded.iter().map(|r| r.id).collect();
    let variants: Vec<Uuid> = recorded.iter().map(|r| r.variant_id).collect();
    let locations: Vec<Uuid> = recorded.iter().map(|r| r.location_id).collect();
    let kinds: Vec<&str> = recorded.iter().map(|r| r.kind.as_str()).collect();
    let quantities: Vec<i64> = recorded.iter().map(|r| r.quantity).collect();
    let deltas: Vec<i64> = recorded.iter().map(|r| r.delta).collect();
    let after: Vec<i64> = recorded.iter().map(|r| r.on_hand_after).collect();
    let occurred: Vec<DateTime<Utc>> = recorded.iter().map(|r| r.occurred_at).collect();
    let reference_types: Vec<Option<&str>> = (0..recorded.len())
        .map(|i| {
            references
                .get(i)
                .copied()
                .flatten()
                .map(|r| r.kind.as_str())
        })
        .collect();
    let reference_ids: Vec<Option<&str>> = (0..recorded.len())
        .map(|i| references.get(i).copied().flatten().map(|r| r.id.as_str()))
        .collect();
    tx.execute_cached(
        "INSERT INTO inventory.movements
             (id, tenant_id, variant_id, location_id, kind, quantity, delta, on_hand_after,
              reason, actor_user_id, occurred_at, reference_type, reference_id)
         SELECT id, $1, v, l, k, q, d, a, r, $2, o, rt, ri
         FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::int8[], $8::int8[],
                     $9::int8[], $10::text[], $11::timestamptz[], $12::text[], $13::text[])
              AS t(id, v, l, k, q, d, a, r, o, rt, ri)",
        &[
            &tenant,
            &actor,
            &ids,
            &variants,
            &locations,
            &kinds,
            &quantities,
            &deltas,
            &after,
            &reasons,
            &occurred,
            &reference_types,
            &reference_ids,
        ],
    )
    .await?;
    Ok(())
}

async fn emit_low_stock(
    tx: &Transaction<'_>,
    tenant: Uuid,
    before: &BTreeMap<Pair, Level>,
    after: &BTreeMap<Pair, Level>,
    outbox: &mut Outbox,
) -> Result<(), Error> {
    for (pair, level) in after {
        let Some(point) = level.reorder_point else {
            continue;
        };
        let was_below = before.get(pair).is_some_and(|l| l.below_reorder);
        if level.on_hand <= point && !was_below {
            outbox
                .record(
                    tx,
                    Some(tenant),
                    &StockLow {
                        variant_id: pair.0,
                        location_id: pair.1,
                        on_hand: level.on_hand,
                        reorder_point: point,
                        reorder_quantity: level.reorder_quantity,
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// One variant and quantity to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldLine {
    pub variant_id: Uuid,
    pub quantity: i64,
}

/// A reservation as created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    pub id: Uuid,
    pub location_id: Uuid,
    pub status: String,
    pub reference: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub lines: Vec<HoldLine>,
}

/// Holds `lines` at `location_id` until `expires_at`. With `block`, a hold must fit in what
/// is on hand minus the live holds (409 `insufficient_stock` otherwise); variants that do not
/// track inventory and `allow_negative` pairs always fit. Lines of the same variant are summed.
pub async fn reserve(
    tx: &Transaction<'_>,
    tenant: Uuid,
    location_id: Uuid,
    lines: &[HoldLine],
    expires_at: DateTime<Utc>,
    reference: Option<String>,
) -> Result<Reservation, Error> {
    let mut summed: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(invalid(
                "invalid_quantity",
                index,
                format!("Line {index}: a hold is 1 to {MAX_QUANTITY} units."),
            ));
        }
        *summed.entry(line.variant_id).or_default() += line.quantity;
    }
    let untracked = check_references(tx, summed.keys().map(|v| (*v, location_id))).await?;
    let levels = lock(tx, tenant, summed.keys().map(|v| (*v, location_id))).await?;
    let variant_ids: Vec<Uuid> = summed.keys().copied().collect();
    let quantities: Vec<i64> = summed.values().copied().collect();
    let checked: Vec<bool> = variant_ids.iter().map(|v| !untracked.contains(v)).collect();
    let short = tx
        .query_cached(
            "SELECT s.variant_id FROM inventory.stock s
             JOIN unnest($3::uuid[], $4::int8[], $5::bool[]) AS d(variant_id, quantity, checked)
               ON d.variant_id = s.variant_id
             WHERE s.tenant_id = $1 AND s.location_id = $2 AND d.checked
               AND s.oversell = 'block'
               AND s.on_hand - d.quantity < (
                   SELECT COALESCE(sum(r.quantity), 0)::int8 FROM inventory.reservations r
                   WHERE r.tenant_id = s.tenant_id AND r.variant_id = s.variant_id
                     AND r.location_id = s.location_id AND r.status = 'active'
                     AND r.expires_at > now())",
            &[&tenant, &location_id, &variant_ids, &quantities, &checked],
        )
        .await?;
    if !short.is_empty() {
        let short: Vec<Pair> = short
            .iter()
            .map(|row| Ok((row.try_get(0)?, location_id)))
            .collect::<Result<_, Error>>()?;
        let mut after = levels.clone();
        for pair in &short {
            if let (Some(level), Some(quantity)) = (after.get_mut(pair), summed.get(&pair.0)) {
                level.on_hand -= quantity;
            }
        }
        return Err(shortage(tx, &short, &levels, &after).await?);
    }
    let id = Uuid::now_v7();
    tx.execute_cached(
        "INSERT INTO inventory.reservations
             (reservation_id, tenant_id, variant_id, location_id, quantity, reference, expires_at)
         SELECT $1, $2, v, $3, q, $4, $5 FROM unnest($6::uuid[], $7::int8[]) AS t(v, q)",
        &[
            &id,
            &tenant,
            &location_id,
            &reference,
            &expires_at,
            &variant_ids,
            &quantities,
        ],
    )
    .await?;
    Ok(Reservation {
        id,
        location_id,
        status: "active".to_owned(),
        reference,
        expires_at,
        lines: summed
            .into_iter()
            .map(|(variant_id, quantity)| HoldLine {
                variant_id,
                quantity,
            })
            .collect(),
    })
}

/// Releases an active reservation; returns whether it was active (an unknown, consumed or
/// already released one changes nothing).
pub async fn release(tx: &Transaction<'_>, reservation_id: Uuid) -> Result<bool, Error> {
    let released = tx
        .execute_cached(
            "UPDATE inventory.reservations SET status = 'released', closed_at = now()
             WHERE reservation_id = $1 AND status = 'active'",
            &[&reservation_id],
        )
        .await?;
    Ok(released > 0)
}

/// The columns of a stock level as the API shows it, for `FROM inventory.stock s`:
/// `reserved` sums the live holds and `available` is `on_hand - reserved`.
pub const LEVEL_COLUMNS: &str = "s.variant_id, s.location_id, s.on_hand, \
     r.reserved, s.on_hand - r.reserved AS available, s.oversell, s.reorder_point, \
     s.reorder_quantity, s.below_reorder, s.last_count_at, s.version, s.updated_at";

/// The join that computes `r.reserved` for [`LEVEL_COLUMNS`].
pub const LEVEL_JOIN: &str = "CROSS JOIN LATERAL (
         SELECT COALESCE(sum(h.quantity), 0)::int8 AS reserved FROM inventory.reservations h
         WHERE h.tenant_id = s.tenant_id AND h.variant_id = s.variant_id
           AND h.location_id = s.location_id AND h.status = 'active'
           AND h.expires_at > now()) r";

/// A stock level: on hand, held, available, and the pair's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelView {
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub oversell: String,
    pub reorder_point: Option<i64>,
    pub reorder_quantity: Option<i64>,
    pub below_reorder: bool,
    pub last_count_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl LevelView {
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            variant_id: row.try_get("variant_id")?,
            location_id: row.try_get("location_id")?,
            on_hand: row.try_get("on_hand")?,
            reserved: row.try_get("reserved")?,
            available: row.try_get("available")?,
            oversell: row.try_get("oversell")?,
            reorder_point: row.try_get("reorder_point")?,
            reorder_quantity: row.try_get("reorder_quantity")?,
            below_reorder: row.try_get("below_reorder")?,
            last_count_at: row.try_get("last_count_at")?,
            version: row.try_get("version")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The level of one pair, creating its row (level 0, `block`) if it has none yet.
pub async fn level(
    tx: &Transaction<'_>,
    tenant: Uuid,
    variant_id: Uuid,
    location_id: Uuid,
) -> Result<LevelView, Error> {
    check_references(tx, std::iter::once((variant_id, location_id))).await?;
    tx.execute_cached(
        "INSERT INTO inventory.stock (tenant_id, variant_id, location_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&tenant, &variant_id, &location_id],
    )
    .await?;
    let row = tx
        .query_one(
            &format!(
                "SELECT {LEVEL_COLUMNS} FROM inventory.stock s {LEVEL_JOIN}
                 WHERE s.variant_id = $1 AND s.location_id = $2"
            ),
            &[&variant_id, &location_id],
        )
        .await?;
    LevelView::from_row(&row)
}
