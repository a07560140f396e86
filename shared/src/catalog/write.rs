//! Creating catalog objects: the bodies of the `POST` endpoints (also the rows of
//! `POST /v1/catalog/import`, which add a `key`), validated and inserted in the caller's
//! tenant transaction. One definition, so an imported product and a posted one cannot differ.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::validate::{self, name};
use super::{
    CATEGORY_COLUMNS, CategoryView, MODIFIER_GROUP_COLUMNS, ModifierGroupView, ProductView,
    VARIANT_COLUMNS, VariantView, load_product, modifiers, set_product_modifier_groups,
};
use crate::db::Transaction;
use crate::error::Error;

/// Most variants of one product.
pub const MAX_VARIANTS: usize = 250;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// `POST /v1/categories`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub position: Option<i32>,
    #[serde(default)]
    pub key: Option<String>,
}

/// A live category of the tenant, or 422 `code` naming `field`.
pub async fn ensure_category(
    tx: &Transaction<'_>,
    id: Uuid,
    code: &'static str,
    field: &str,
) -> Result<(), Error> {
    let live = tx
        .query_opt(
            "SELECT 1 FROM catalog.categories WHERE id = $1 AND archived_at IS NULL",
            &[&id],
        )
        .await?
        .is_some();
    if live {
        Ok(())
    } else {
        Err(invalid(code, field, format!("No live category {id}.")))
    }
}

/// Inserts a category (a root when `parent_id` is absent; the parent must be live:
/// 422 `unknown_parent`). Without `position` it goes after its siblings.
pub async fn create_category(
    tx: &Transaction<'_>,
    tenant: Uuid,
    new: NewCategory,
) -> Result<CategoryView, Error> {
    let name = name("name", &new.name)?;
    let key = new.key.as_deref().map(validate::external_key).transpose()?;
    if let Some(parent) = new.parent_id {
        ensure_category(tx, parent, "unknown_parent", "parent_id").await?;
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO catalog.categories (id, tenant_id, parent_id, name, position,
                                                 external_key)
                 VALUES ($1, $2, $3, $4,
                         COALESCE($5, (SELECT COALESCE(max(position) + 1, 0)
                                       FROM catalog.categories
                                       WHERE parent_id IS NOT DISTINCT FROM $3
                                         AND archived_at IS NULL)),
                         $6)
                 RETURNING {CATEGORY_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &tenant,
                &new.parent_id,
                &name,
                &new.position,
                &key,
            ],
        )
        .await?;
    CategoryView::from_row(&row)
}

/// A variant in `POST /v1/products` (`variants`) or `POST /v1/products/{id}/variants`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewVariant {
    /// Defaults to the option values joined by " / " (or the product's name).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub option_values: Value,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    pub price_minor: i64,
    #[serde(default)]
    pub cost_minor: Option<i64>,
    #[serde(default)]
    pub track_inventory: Option<bool>,
    #[serde(default)]
    pub position: Option<i32>,
    #[serde(default)]
    pub key: Option<String>,
}

/// `POST /v1/products`. A product without `options` has one default variant: either one
/// entry of `variants` or the product-level `price_minor` (with `sku`, `barcode`,
/// `cost_minor`, `track_inventory`). A product with options lists its variants.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category_id: Option<Uuid>,
    #[serde(default)]
    pub tax_category: Option<String>,
    #[serde(default)]
    pub options: Option<Value>,
    #[serde(default)]
    pub dietary_tags: Vec<String>,
    #[serde(default)]
    pub allergens: Vec<String>,
    #[serde(default)]
    pub image_urls: Vec<String>,
    #[serde(default)]
    pub modifier_group_ids: Vec<Uuid>,
    #[serde(default)]
    pub variants: Vec<NewVariant>,
    #[serde(default)]
    pub price_minor: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default)]
    pub cost_minor: Option<i64>,
    #[serde(default)]
    pub track_inventory: Option<bool>,
    #[serde(default)]
    pub key: Option<String>,
}

/// Validated product fields, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFields {
    pub name: String,
    pub description: String,
    pub category_id: Option<Uuid>,
    pub tax_category: String,
    pub options: Vec<(String, Vec<String>)>,
    pub dietary_tags: Vec<String>,
    pub allergens: Vec<String>,
    pub image_urls: Vec<String>,
}

impl ProductFields {
    /// The stored `options` JSON.
    pub fn options_json(&self) -> Value {
        validate::options_json(&self.options)
    }
}

impl NewProduct {
    /// The product's fields, validated (pure; the category is checked on insert), and its
    /// variants (the default one built from the product-level fields when needed).
    pub fn validate(&self) -> Result<(ProductFields, Vec<NewVariant>), Error> {
        let options = match &self.options {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => validate::options(value)?,
        };
        let fields = ProductFields {
            name: name("name", &self.name)?,
            description: validate::text(
                "description",
                self.description.as_deref().unwrap_or(""),
                4000,
            )?,
            category_id: self.category_id,
            tax_category: validate::tax_category(
                self.tax_category.as_deref().unwrap_or("standard"),
            )?,
            options,
            dietary_tags: validate::tags("dietary_tags", &self.dietary_tags)?,
            allergens: validate::tags("allergens", &self.allergens)?,
            image_urls: validate::image_urls(&self.image_urls)?,
        };
        let shorthand = self.price_minor.is_some()
            || self.sku.is_some()
            || self.barcode.is_some()
            || self.cost_minor.is_some()
            || self.track_inventory.is_some();
        let variants = if self.variants.is_empty() {
            if !fields.options.is_empty() {
                return Err(invalid(
                    "missing_variants",
                    "variants",
                    "A product with options lists its variants.",
                ));
            }
            let Some(price_minor) = self.price_minor else {
                return Err(invalid(
                    "missing_price",
                    "price_minor",
                    "A product without variants needs `price_minor` for its default variant.",
                ));
            };
            vec![NewVariant {
                name: None,
                option_values: json!({}),
                sku: self.sku.clone(),
                barcode: self.barcode.clone(),
                price_minor,
                cost_minor: self.cost_minor,
                track_inventory: self.track_inventory,
                position: Some(0),
                key: None,
            }]
        } else {
            if shorthand {
                return Err(invalid(
                    "ambiguous_variants",
                    "variants",
                    "Give either `variants` or the product-level price, SKU and barcode.",
                ));
            }
            if fields.options.is_empty() && self.variants.len() > 1 {
                return Err(invalid(
                    "missing_options",
                    "options",
                    "A product with several variants needs options that tell them apart.",
                ));
            }
            if self.variants.len() > MAX_VARIANTS {
                return Err(invalid(
                    "too_many_variants",
                    "variants",
                    format!("A product has at most {MAX_VARIANTS} variants."),
                ));
            }
            self.variants.clone()
        };
        Ok((fields, variants))
    }
}

/// A variant's validated fields.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantFields {
    pub name: String,
    pub option_values: BTreeMap<String, String>,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price_minor: i64,
    pub cost_minor: Option<i64>,
    pub track_inventory: bool,
    pub position: Option<i32>,
    pub key: Option<String>,
}

impl NewVariant {
    /// Validates the variant against its product's options and name (pure).
    pub fn validate(
        &self,
        options: &[(String, Vec<String>)],
        product_name: &str,
    ) -> Result<VariantFields, Error> {
        let option_values = validate::option_values(options, &self.option_values)?;
        let name = match &self.name {
            Some(name) => validate::name("name", name)?,
            None if option_values.is_empty() => product_name.to_owned(),
            // In the options' order, not the map's.
            None => options
                .iter()
                .filter_map(|(option, _)| option_values.get(option).cloned())
                .collect::<Vec<_>>()
                .join(" / "),
        };
        Ok(VariantFields {
            name,
            option_values,
            sku: self.sku.as_deref().map(validate::sku).transpose()?,
            barcode: self.barcode.as_deref().map(validate::barcode).transpose()?,
            price_minor: validate::money("price_minor", self.price_minor)?,
            cost_minor: self
                .cost_minor
                .map(|cost| validate::money("cost_minor", cost))
                .transpose()?,
            track_inventory: self.track_inventory.unwrap_or(true),
            position: self.position,
            key: self
                .key
                .as_deref()
                .map(validate::external_key)
                .transpose()?,
        })
    }
}

/// Inserts a product with its variants and modifier groups; returns it as `GET` shows it.
/// 422 `unknown_category`, `unknown_modifier_group`, `duplicate_variant` (two variants with
/// the same option values), the field codes of [`validate`]; 409 `already_exists` for a SKU,
/// barcode or key in use.
pub async fn create_product(
    tx: &Transaction<'_>,
    tenant: Uuid,
    new: &NewProduct,
) -> Result<ProductView, Error> {
    let (fields, variants) = new.validate()?;
    let key = new.key.as_deref().map(validate::external_key).transpose()?;
    let variants = variants
        .iter()
        .map(|v| v.validate(&fields.options, &fields.name))
        .collect::<Result<Vec<_>, _>>()?;
    ensure_distinct(&variants)?;
    if let Some(category) = fields.category_id {
        ensure_category(tx, category, "unknown_category", "category_id").await?;
    }
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO catalog.products (id, tenant_id, category_id, name, description,
                                       tax_category, options, dietary_tags, allergens,
                                       image_urls, external_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &id,
            &tenant,
            &fields.category_id,
            &fields.name,
            &fields.description,
            &fields.tax_category,
            &fields.options_json(),
            &fields.dietary_tags,
            &fields.allergens,
            &fields.image_urls,
            &key,
        ],
    )
    .await?;
    if !new.modifier_group_ids.is_empty() {
        set_product_modifier_groups(tx, tenant, id, &new.modifier_group_ids).await?;
    }
    for (index, variant) in variants.iter().enumerate() {
        let position = variant
            .position
            .unwrap_or_else(|| i32::try_from(index).unwrap_or(i32::MAX));
        insert_variant(tx, tenant, id, variant, position).await?;
    }
    load_product(tx, id).await
}

/// 422 `duplicate_variant` when two variants name the same option values.
pub fn ensure_distinct(variants: &[VariantFields]) -> Result<(), Error> {
    for (i, variant) in variants.iter().enumerate() {
        if variants[..i]
            .iter()
            .any(|other| other.option_values == variant.option_values)
        {
            return Err(invalid(
                "duplicate_variant",
                "variants",
                format!(
                    "Two variants have the same option values ({}).",
                    json!(variant.option_values)
                ),
            ));
        }
    }
    Ok(())
}

/// Inserts one validated variant of `product_id` at `position`.
pub async fn insert_variant(
    tx: &Transaction<'_>,
    tenant: Uuid,
    product_id: Uuid,
    variant: &VariantFields,
    position: i32,
) -> Result<VariantView, Error> {
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO catalog.variants (id, tenant_id, product_id, name, option_values,
                                               sku, barcode, price_minor, cost_minor,
                                               track_inventory, position, external_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 RETURNING {VARIANT_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &tenant,
                &product_id,
                &variant.name,
                &json!(variant.option_values),
                &variant.sku,
                &variant.barcode,
                &variant.price_minor,
                &variant.cost_minor,
                &variant.track_inventory,
                &position,
                &variant.key,
            ],
        )
        .await?;
    VariantView::from_row(&row)
}

/// A modifier in `POST /v1/modifier-groups` (and in its `PATCH`, where an `id` keeps an
/// existing modifier).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewModifier {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub price_delta_minor: i64,
}

/// `POST /v1/modifier-groups`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewModifierGroup {
    pub name: String,
    #[serde(default)]
    pub min_selections: i32,
    #[serde(default)]
    pub max_selections: Option<i32>,
    #[serde(default)]
    pub allow_repeats: bool,
    #[serde(default)]
    pub modifiers: Vec<NewModifier>,
    #[serde(default)]
    pub key: Option<String>,
}

/// Validated modifiers: names and deltas (422 `invalid_name`, `invalid_price`,
/// `duplicate_modifier` for two modifiers with one name).
pub fn validate_modifiers(modifiers: &[NewModifier]) -> Result<Vec<NewModifier>, Error> {
    let mut out: Vec<NewModifier> = Vec::with_capacity(modifiers.len());
    for modifier in modifiers {
        let name = name("modifiers.name", &modifier.name)?;
        if out.iter().any(|m| m.name.eq_ignore_ascii_case(&name)) {
            return Err(invalid(
                "duplicate_modifier",
                "modifiers",
                format!("Two modifiers are named {name:?}."),
            ));
        }
        out.push(NewModifier {
            id: modifier.id,
            name,
            price_delta_minor: validate::price_delta(
                "modifiers.price_delta_minor",
                modifier.price_delta_minor,
            )?,
        });
    }
    Ok(out)
}

/// Inserts a modifier group with its modifiers (ids are assigned here; any sent `id` is 422
/// `unexpected_modifier_id`).
pub async fn create_modifier_group(
    tx: &Transaction<'_>,
    tenant: Uuid,
    new: &NewModifierGroup,
) -> Result<ModifierGroupView, Error> {
    let group_name = name("name", &new.name)?;
    let key = new.key.as_deref().map(validate::external_key).transpose()?;
    let list = validate_modifiers(&new.modifiers)?;
    if list.iter().any(|m| m.id.is_some()) {
        return Err(invalid(
            "unexpected_modifier_id",
            "modifiers",
            "New modifiers get their ids from the server.",
        ));
    }
    modifiers::check_limits(
        new.min_selections,
        new.max_selections,
        new.allow_repeats,
        list.len(),
    )?;
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO catalog.modifier_groups (id, tenant_id, name, min_selections,
                                              max_selections, allow_repeats, external_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &id,
            &tenant,
            &group_name,
            &new.min_selections,
            &new.max_selections,
            &new.allow_repeats,
            &key,
        ],
    )
    .await?;
    insert_modifiers(tx, tenant, id, &list, 0).await?;
    load_modifier_group(tx, id).await
}

/// Inserts `modifiers` (new ones) into group `group_id`, positions from `first_position`.
pub async fn insert_modifiers(
    tx: &Transaction<'_>,
    tenant: Uuid,
    group_id: Uuid,
    modifiers: &[NewModifier],
    first_position: i32,
) -> Result<(), Error> {
    if modifiers.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = modifiers
        .iter()
        .map(|m| m.id.unwrap_or_else(Uuid::now_v7))
        .collect();
    let names: Vec<&str> = modifiers.iter().map(|m| m.name.as_str()).collect();
    let deltas: Vec<i64> = modifiers.iter().map(|m| m.price_delta_minor).collect();
    let positions: Vec<i32> = (0..modifiers.len())
        .map(|i| first_position.saturating_add(i32::try_from(i).unwrap_or(i32::MAX)))
        .collect();
    tx.execute(
        "INSERT INTO catalog.modifiers (id, tenant_id, group_id, name, price_delta_minor,
                                        position)
         SELECT i, $1, $2, n, d, p
         FROM unnest($3::uuid[], $4::text[], $5::int8[], $6::int4[]) AS t(i, n, d, p)",
        &[&tenant, &group_id, &ids, &names, &deltas, &positions],
    )
    .await?;
    Ok(())
}

/// One modifier group with its live modifiers, or 404.
pub async fn load_modifier_group(
    tx: &Transaction<'_>,
    id: Uuid,
) -> Result<ModifierGroupView, Error> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {MODIFIER_GROUP_COLUMNS} FROM catalog.modifier_groups m WHERE m.id = $1"
            ),
            &[&id],
        )
        .await?
        .ok_or_else(|| super::not_found("modifier group"))?;
    ModifierGroupView::from_row(&row)
}
