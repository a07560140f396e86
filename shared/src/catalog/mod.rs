//! The catalog as every catalog function (and the order functions) sees it: the views the API
//! answers, the columns they are read from, the loaders that assemble a product with its
//! variants and modifier groups, field validation ([`validate`]), modifier selection rules
//! ([`modifiers`]) and the pricing of one item at a location ([`pricing`]).
//!
//! Every catalog object has a `version` (optimistic concurrency with `If-Match`), a
//! `change_seq` (the offline change feed, stamped by a trigger from a per-tenant counter) and
//! is archived (`archived_at`) rather than deleted, since orders reference it.

pub mod cache;
pub mod import; // issue 4: import-catalog, and modifier-group state (update-modifier-group)
pub mod menus;
pub mod modifiers;
pub mod patch;
pub mod pricing;
pub mod tree; // issue 4: the category tree (list-, create-, update-, delete-category)
pub mod validate;
pub mod write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;

/// The permission to read the catalog.
pub const READ: &str = "catalog:read";
/// The permission to change the catalog.
pub const WRITE: &str = "catalog:write";

/// The columns [`CategoryView::from_row`] reads.
pub const CATEGORY_COLUMNS: &str = "id, parent_id, name, position, external_key, version, \
                                    change_seq, archived_at, created_at, updated_at";

/// A category: a node of the tenant's category tree, ordered by `position` among siblings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryView {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub position: i32,
    pub external_key: Option<String>,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CategoryView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            parent_id: row.try_get("parent_id")?,
            name: row.try_get("name")?,
            position: row.try_get("position")?,
            external_key: row.try_get("external_key")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The columns [`TaxRateView::from_row`] reads.
pub const TAX_RATE_COLUMNS: &str = "id, name, tax_category, rate_bps, inclusive, location_id, \
                                    version, change_seq, archived_at, created_at, updated_at";

/// A tax rate: `rate_bps` basis points (825 = 8.25 %), included in the price or added on top,
/// at one location or (`location_id` null) every location, for products of `tax_category`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaxRateView {
    pub id: Uuid,
    pub name: String,
    pub tax_category: String,
    pub rate_bps: i32,
    pub inclusive: bool,
    pub location_id: Option<Uuid>,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TaxRateView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            tax_category: row.try_get("tax_category")?,
            rate_bps: row.try_get("rate_bps")?,
            inclusive: row.try_get("inclusive")?,
            location_id: row.try_get("location_id")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The columns [`VariantView::from_row`] reads.
pub const VARIANT_COLUMNS: &str = "id, product_id, name, option_values, sku, barcode, \
                                   price_minor, cost_minor, track_inventory, position, \
                                   external_key, version, change_seq, archived_at, created_at, \
                                   updated_at";

/// A sellable variant of a product: its own SKU, barcode, price and cost (minor units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantView {
    pub id: Uuid,
    pub product_id: Uuid,
    pub name: String,
    pub option_values: Value,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price_minor: i64,
    pub cost_minor: Option<i64>,
    pub track_inventory: bool,
    pub position: i32,
    pub external_key: Option<String>,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl VariantView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            product_id: row.try_get("product_id")?,
            name: row.try_get("name")?,
            option_values: row.try_get("option_values")?,
            sku: row.try_get("sku")?,
            barcode: row.try_get("barcode")?,
            price_minor: row.try_get("price_minor")?,
            cost_minor: row.try_get("cost_minor")?,
            track_inventory: row.try_get("track_inventory")?,
            position: row.try_get("position")?,
            external_key: row.try_get("external_key")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The columns [`ProductView::from_row`] reads, for `FROM catalog.products p` (the modifier
/// group ids come from the join table, in order).
pub const PRODUCT_COLUMNS: &str = "p.id, p.category_id, p.name, p.description, p.tax_category, \
     p.options, p.dietary_tags, p.allergens, p.image_urls, p.external_key, p.version, \
     p.change_seq, p.archived_at, p.created_at, p.updated_at, \
     ARRAY(SELECT g.group_id FROM catalog.product_modifier_groups g \
           WHERE g.product_id = p.id ORDER BY g.position, g.group_id) AS modifier_group_ids";

/// A product with its variants (in `position` order; archived variants included, marked).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductView {
    pub id: Uuid,
    pub category_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub tax_category: String,
    pub options: Value,
    pub dietary_tags: Vec<String>,
    pub allergens: Vec<String>,
    pub image_urls: Vec<String>,
    pub modifier_group_ids: Vec<Uuid>,
    pub variants: Vec<VariantView>,
    pub external_key: Option<String>,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductView {
    /// A product without its variants (see [`load_products`]).
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            category_id: row.try_get("category_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            tax_category: row.try_get("tax_category")?,
            options: row.try_get("options")?,
            dietary_tags: row.try_get("dietary_tags")?,
            allergens: row.try_get("allergens")?,
            image_urls: row.try_get("image_urls")?,
            modifier_group_ids: row.try_get("modifier_group_ids")?,
            variants: Vec::new(),
            external_key: row.try_get("external_key")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The columns [`ModifierGroupView::from_row`] reads, for `FROM catalog.modifier_groups m`
/// (its live modifiers come as JSON, in order).
pub const MODIFIER_GROUP_COLUMNS: &str = "m.id, m.name, m.min_selections, m.max_selections, \
     m.allow_repeats, m.external_key, m.version, m.change_seq, m.archived_at, m.created_at, \
     m.updated_at, \
     COALESCE((SELECT jsonb_agg(jsonb_build_object('id', x.id, 'name', x.name, \
                 'price_delta_minor', x.price_delta_minor, 'position', x.position) \
                 ORDER BY x.position, x.id) \
               FROM catalog.modifiers x \
               WHERE x.group_id = m.id AND x.archived_at IS NULL), '[]'::jsonb) AS modifiers";

/// A modifier: a choice within a group, with a price delta (may be 0 or negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ModifierView {
    pub id: Uuid,
    pub name: String,
    pub price_delta_minor: i64,
    pub position: i32,
}

/// A modifier group with its live modifiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModifierGroupView {
    pub id: Uuid,
    pub name: String,
    pub min_selections: i32,
    pub max_selections: Option<i32>,
    pub allow_repeats: bool,
    pub modifiers: Vec<ModifierView>,
    pub external_key: Option<String>,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ModifierGroupView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        let modifiers: Value = row.try_get("modifiers")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            min_selections: row.try_get("min_selections")?,
            max_selections: row.try_get("max_selections")?,
            allow_repeats: row.try_get("allow_repeats")?,
            modifiers: serde_json::from_value(modifiers).map_err(Error::internal)?,
            external_key: row.try_get("external_key")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The columns [`VariantLocationView::from_row`] reads.
pub const VARIANT_LOCATION_COLUMNS: &str = "id, variant_id, location_id, price_minor, \
     sold_out_until, hidden, version, change_seq, created_at, updated_at";

/// A variant's overrides at one location: price, sold out until a time, hidden.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantLocationView {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub price_minor: Option<i64>,
    pub sold_out_until: Option<DateTime<Utc>>,
    pub hidden: bool,
    pub version: i32,
    pub change_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl VariantLocationView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            variant_id: row.try_get("variant_id")?,
            location_id: row.try_get("location_id")?,
            price_minor: row.try_get("price_minor")?,
            sold_out_until: row.try_get("sold_out_until")?,
            hidden: row.try_get("hidden")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// 404 for a catalog object that does not exist for this tenant (another tenant's included).
pub fn not_found(kind: &str) -> Error {
    Error::not_found(format!("No such {kind}."))
}

/// A path id, or 404 for text that cannot be one.
pub fn path_id(text: &str, kind: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| not_found(kind))
}

/// The products `ids` with their variants, in the order of `ids` (unknown ids are skipped).
pub async fn load_products(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<Vec<ProductView>, Error> {
    // Prepared once per pooled connection, then both go out together (tokio-postgres
    // pipelines concurrent queries).
    let (product_statement, variant_statement) = futures::try_join!(
        tx.prepare_cached(&PRODUCTS_BY_ID),
        tx.prepare_cached(&VARIANTS_BY_PRODUCT)
    )?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let (rows, variants) = futures::try_join!(
        tx.query(&product_statement, &params),
        tx.query(&variant_statement, &params)
    )?;
    assemble(ids, &rows, &variants)
}

/// [`load_products`] for `tenant` in its own read-only transaction and a single database
/// round trip ([`crate::db::tenant_read`]): the miss path of `GET /v1/products/{id}`.
///
/// Also answers the tenant's catalog change counter, read *before* the products: a write that
/// commits between the two reads can only make the counter older than the products (the next
/// freshness check then misses once), never newer, which would keep a stale product cached.
pub async fn read_products(
    client: &crate::db::Client,
    tenant: Uuid,
    ids: &[Uuid],
) -> Result<(i64, Vec<ProductView>), Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ids];
    let mut results = crate::db::tenant_read(
        client,
        tenant,
        &[
            (CHANGE_SEQ, &[]),
            (PRODUCTS_BY_ID.as_str(), &params),
            (VARIANTS_BY_PRODUCT.as_str(), &params),
        ],
    )
    .await?;
    let variants = results.pop().unwrap_or_default();
    let rows = results.pop().unwrap_or_default();
    let seq = match results.pop().unwrap_or_default().first() {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    Ok((seq, assemble(ids, &rows, &variants)?))
}

/// The tenant's catalog change counter (RLS-scoped), 0 before its first catalog write.
const CHANGE_SEQ: &str = "SELECT coalesce(max(seq), 0)::int8 FROM catalog.change_counters";

static PRODUCTS_BY_ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {PRODUCT_COLUMNS} FROM catalog.products p WHERE p.id = ANY($1)")
});
static VARIANTS_BY_PRODUCT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {VARIANT_COLUMNS} FROM catalog.variants
         WHERE product_id = ANY($1) ORDER BY product_id, position, id"
    )
});

/// Products (without variants) from their rows, variants attached, in the order of `ids`.
fn assemble(
    ids: &[Uuid],
    rows: &[tokio_postgres::Row],
    variants: &[tokio_postgres::Row],
) -> Result<Vec<ProductView>, Error> {
    let mut products = rows
        .iter()
        .map(ProductView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    for row in variants {
        let variant = VariantView::from_row(row)?;
        if let Some(product) = products.iter_mut().find(|p| p.id == variant.product_id) {
            product.variants.push(variant);
        }
    }
    products.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
    Ok(products)
}

/// One product with its variants, or 404.
pub async fn load_product(tx: &Transaction<'_>, id: Uuid) -> Result<ProductView, Error> {
    load_products(tx, &[id])
        .await?
        .pop()
        .ok_or_else(|| not_found("product"))
}

/// The modifier groups `ids` with their live modifiers, in the order of `ids`.
pub async fn load_modifier_groups(
    tx: &Transaction<'_>,
    ids: &[Uuid],
) -> Result<Vec<ModifierGroupView>, Error> {
    let rows = tx
        .query_cached(
            &format!(
                "SELECT {MODIFIER_GROUP_COLUMNS} FROM catalog.modifier_groups m
                 WHERE m.id = ANY($1)"
            ),
            &[&ids],
        )
        .await?;
    let mut groups = rows
        .iter()
        .map(ModifierGroupView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    groups.sort_by_key(|g| ids.iter().position(|id| *id == g.id));
    Ok(groups)
}

/// Attaches `group_ids` (in order) to a product, replacing what it had. Every id must be a
/// live modifier group of the tenant: others (another tenant's included, which RLS hides) are
/// 422 `unknown_modifier_group`.
pub async fn set_product_modifier_groups(
    tx: &Transaction<'_>,
    tenant: Uuid,
    product_id: Uuid,
    group_ids: &[Uuid],
) -> Result<(), Error> {
    let found: Vec<Uuid> = tx
        .query(
            "SELECT id FROM catalog.modifier_groups WHERE id = ANY($1) AND archived_at IS NULL",
            &[&group_ids],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(missing) = group_ids.iter().find(|id| !found.contains(id)) {
        return Err(Error::unprocessable(
            "unknown_modifier_group",
            format!("No live modifier group {missing}."),
        )
        .with_extension("field", "modifier_group_ids")
        .with_extension("modifier_group_id", missing.to_string()));
    }
    let positions: Vec<i32> = (0..group_ids.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    tx.execute(
        "DELETE FROM catalog.product_modifier_groups WHERE product_id = $1",
        &[&product_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO catalog.product_modifier_groups (tenant_id, product_id, group_id, position)
         SELECT $1, $2, g, p FROM unnest($3::uuid[], $4::int4[]) AS t(g, p)",
        &[&tenant, &product_id, &group_ids, &positions],
    )
    .await?;
    Ok(())
}

/// Whether `location_id` is a location of the tenant (RLS hides the others): 422
/// `unknown_location` otherwise.
pub async fn ensure_location(
    tx: &Transaction<'_>,
    location_id: Uuid,
    field: &str,
) -> Result<(), Error> {
    let exists = tx
        .query_opt(
            "SELECT 1 FROM platform.locations WHERE id = $1",
            &[&location_id],
        )
        .await?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(
            Error::unprocessable("unknown_location", format!("No location {location_id}."))
                .with_extension("field", field),
        )
    }
}
