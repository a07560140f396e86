//! One item as a location sells it right now: the variant's price there (the location's
//! override, else the variant's), the modifiers picked (checked by [`super::modifiers`]), and
//! the tax rates of the product's tax category at that location. Server-side pricing of orders
//! starts here; client prices are never trusted.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::modifiers::{self, ChosenModifier, Pick};
use super::{ModifierGroupView, TAX_RATE_COLUMNS, TaxRateView, load_modifier_groups};
use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;

/// A priced item: unit price = base price + Σ(modifier delta × its quantity).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedItem {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub variant_name: String,
    pub category_id: Option<Uuid>,
    pub tax_category: String,
    pub sku: Option<String>,
    pub track_inventory: bool,
    pub base_price_minor: i64,
    pub cost_minor: Option<i64>,
    pub modifiers: Vec<ChosenModifier>,
    pub unit_price_minor: i64,
}

fn unavailable(code: &'static str, variant_id: Uuid, detail: String) -> Error {
    Error::unprocessable(code, detail)
        .with_extension("field", "variant_id")
        .with_extension("variant_id", variant_id.to_string())
}

/// Resolves `variant_id` with `picks` at `location_id` as of `at`. Codes (422):
/// `unknown_variant` (absent, another tenant's, or archived with its product),
/// `variant_unavailable` (hidden at the location), `sold_out` (sold out there until a later
/// time), and the modifier codes of [`modifiers::select`].
pub async fn resolve_item(
    tx: &Transaction<'_>,
    location_id: Uuid,
    variant_id: Uuid,
    picks: &[Pick],
    at: DateTime<Utc>,
) -> Result<ResolvedItem, Error> {
    resolve_items(tx, location_id, &[(variant_id, picks)], at)
        .await?
        .pop()
        .unwrap_or_else(|| Err(Error::internal("an item resolved to nothing")))
}

/// Resolves every `(variant, picks)` of an order as [`resolve_item`] does each, in two
/// statements whatever the number of lines (the variants, then their modifier groups): the
/// per-statement cost on the server was most of what pricing a line cost. The outer error is
/// a database failure; each line has its own result, in order.
pub async fn resolve_items(
    tx: &Transaction<'_>,
    location_id: Uuid,
    items: &[(Uuid, &[Pick])],
    at: DateTime<Utc>,
) -> Result<Vec<Result<ResolvedItem, Error>>, Error> {
    let mut variant_ids: Vec<Uuid> = items.iter().map(|(id, _)| *id).collect();
    variant_ids.sort_unstable();
    variant_ids.dedup();
    let rows = tx
        .query_cached(
            "SELECT v.id, v.product_id, v.name AS variant_name, v.sku, v.price_minor,
                    v.cost_minor, v.track_inventory, p.name AS product_name, p.category_id,
                    p.tax_category, o.price_minor AS location_price, o.hidden, o.sold_out_until,
                    ARRAY(SELECT g.group_id FROM catalog.product_modifier_groups g
                          WHERE g.product_id = p.id ORDER BY g.position, g.group_id) AS group_ids
             FROM catalog.variants v
             JOIN catalog.products p ON p.id = v.product_id
             LEFT JOIN catalog.variant_locations o
                    ON o.variant_id = v.id AND o.location_id = $2
             WHERE v.id = ANY($1) AND v.archived_at IS NULL AND p.archived_at IS NULL",
            &[&variant_ids, &location_id],
        )
        .await?;
    let mut found: HashMap<Uuid, (&tokio_postgres::Row, Vec<Uuid>)> = HashMap::new();
    let mut group_ids: Vec<Uuid> = Vec::new();
    for row in &rows {
        let groups: Vec<Uuid> = row.try_get("group_ids")?;
        group_ids.extend(&groups);
        found.insert(row.try_get("id")?, (row, groups));
    }
    group_ids.sort_unstable();
    group_ids.dedup();
    let groups: HashMap<Uuid, ModifierGroupView> = if group_ids.is_empty() {
        HashMap::new()
    } else {
        load_modifier_groups(tx, &group_ids)
            .await?
            .into_iter()
            .map(|group| (group.id, group))
            .collect()
    };
    Ok(items
        .iter()
        .map(|(variant_id, picks)| {
            let (row, group_ids) = found.get(variant_id).ok_or_else(|| {
                unavailable(
                    "unknown_variant",
                    *variant_id,
                    format!("No live variant {variant_id}."),
                )
            })?;
            let groups: Vec<ModifierGroupView> = group_ids
                .iter()
                .filter_map(|id| groups.get(id).cloned())
                .collect();
            finish(row, *variant_id, &groups, picks, at)
        })
        .collect())
}

/// One resolved variant row, its groups and the picks, checked and priced.
fn finish(
    row: &tokio_postgres::Row,
    variant_id: Uuid,
    groups: &[ModifierGroupView],
    picks: &[Pick],
    at: DateTime<Utc>,
) -> Result<ResolvedItem, Error> {
    let hidden: Option<bool> = row.try_get("hidden")?;
    if hidden == Some(true) {
        return Err(unavailable(
            "variant_unavailable",
            variant_id,
            format!("Variant {variant_id} is not sold at this location."),
        ));
    }
    let sold_out_until: Option<DateTime<Utc>> = row.try_get("sold_out_until")?;
    if let Some(until) = sold_out_until.filter(|until| *until > at) {
        return Err(unavailable(
            "sold_out",
            variant_id,
            format!("Variant {variant_id} is sold out here until {until}."),
        )
        .with_extension("sold_out_until", until.to_rfc3339()));
    }
    let chosen = modifiers::select(groups, picks)?;
    let base: i64 = match row.try_get::<_, Option<i64>>("location_price")? {
        Some(price) => price,
        None => row.try_get("price_minor")?,
    };
    let unit = chosen.iter().try_fold(base, |total, modifier| {
        total.checked_add(
            modifier
                .price_delta_minor
                .checked_mul(i64::from(modifier.quantity))?,
        )
    });
    let unit_price_minor = unit.ok_or_else(|| {
        Error::unprocessable("invalid_price", "The item's price is out of range.")
    })?;
    Ok(ResolvedItem {
        variant_id,
        product_id: row.try_get("product_id")?,
        product_name: row.try_get("product_name")?,
        variant_name: row.try_get("variant_name")?,
        category_id: row.try_get("category_id")?,
        tax_category: row.try_get("tax_category")?,
        sku: row.try_get("sku")?,
        track_inventory: row.try_get("track_inventory")?,
        base_price_minor: base,
        cost_minor: row.try_get("cost_minor")?,
        modifiers: chosen,
        // A negative modifier never makes an item cost less than nothing.
        unit_price_minor: unit_price_minor.max(0),
    })
}

/// The live tax rates that apply at `location_id` to products of `tax_category`: those of that
/// location and those of every location (`location_id` null), by name.
pub async fn tax_rates(
    tx: &Transaction<'_>,
    location_id: Uuid,
    tax_category: &str,
) -> Result<Vec<TaxRateView>, Error> {
    let rows = tx
        .query_cached(
            &format!(
                "SELECT {TAX_RATE_COLUMNS} FROM catalog.tax_rates
                 WHERE tax_category = $2 AND archived_at IS NULL
                   AND (location_id IS NULL OR location_id = $1)
                 ORDER BY name, id"
            ),
            &[&location_id, &tax_category],
        )
        .await?;
    rows.iter().map(TaxRateView::from_row).collect()
}
