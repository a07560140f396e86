//! `POST /v1/catalog/import` as a library: categories, modifier groups and products (with
//! their variants) identified by the tenant's own `key`s (stored as `external_key`), checked
//! all together, then upserted in the caller's transaction. Also the one writer of a modifier
//! group's whole state ([`GroupState`], [`write_group`]), shared with
//! `PATCH /v1/modifier-groups/{id}`, so both restamp the group whenever its modifiers change
//! (modifier rows have no `change_seq` of their own).
//!
//! All or nothing: every row is validated first (the pure rules of [`super::write`], then the
//! references: keys within the batch or existing keys of the tenant) and every failure is
//! collected as a [`RowError`]; only a batch without any is written. Writing upserts by key: a
//! new key is created with the `write::create_*` functions, an existing key whose fields differ
//! is updated (`version + 1`), an identical one is left alone (no UPDATE, so no new
//! `change_seq`). Replaying a batch therefore changes nothing.
//!
//! An import describes whole objects: a product's variants are the ones listed (live variants
//! not listed are archived, an archived one listed again is restored), a group's modifiers are
//! the ones listed (matched to existing modifiers by name, case-insensitively), and an archived
//! object whose key is imported is restored. Rows reference other objects by key only
//! (`parent_key`, `category_key`, `modifier_group_keys`); ids in rows are refused.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::tree::{self, MAX_CATEGORIES, MAX_DEPTH};
use super::validate;
use super::write::{
    self, NewCategory, NewModifier, NewModifierGroup, NewProduct, NewVariant, VariantFields,
};
use super::{
    CATEGORY_COLUMNS, CategoryView, MODIFIER_GROUP_COLUMNS, ModifierGroupView, ProductView,
    load_products, modifiers, set_product_modifier_groups,
};
use crate::audit::Changes;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::Outbox;
use crate::events::catalog::{PriceChanged, ProductCreated, ProductUpdated};

/// Most rows one import takes: categories + modifier groups + one per variant (a product
/// without listed variants counts one) — the rows of the CSV form.
pub const MAX_ROWS: usize = 5000;

// ---------------------------------------------------------------------------------------------
// A modifier group's whole state.

/// What a modifier group is: the fields a `PATCH` or an import row sets, with the modifiers in
/// order (`id` set: an existing live modifier of the group; unset: a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub name: String,
    pub min_selections: i32,
    pub max_selections: Option<i32>,
    pub allow_repeats: bool,
    pub modifiers: Vec<NewModifier>,
    pub archived: bool,
}

impl GroupState {
    /// The state of a stored group.
    pub fn of(view: &ModifierGroupView) -> Self {
        Self {
            name: view.name.clone(),
            min_selections: view.min_selections,
            max_selections: view.max_selections,
            allow_repeats: view.allow_repeats,
            modifiers: view
                .modifiers
                .iter()
                .map(|m| NewModifier {
                    id: Some(m.id),
                    name: m.name.clone(),
                    price_delta_minor: m.price_delta_minor,
                })
                .collect(),
            archived: view.archived_at.is_some(),
        }
    }

    /// The state normalised and checked as a whole (422 `invalid_name`, `invalid_price`,
    /// `duplicate_modifier`, `invalid_selection_limits`).
    pub fn validated(mut self) -> Result<Self, Error> {
        self.name = validate::name("name", &self.name)?;
        self.modifiers = write::validate_modifiers(&self.modifiers)?;
        modifiers::check_limits(
            self.min_selections,
            self.max_selections,
            self.allow_repeats,
            self.modifiers.len(),
        )?;
        Ok(self)
    }

    /// The fields `next` changes, for the audit record; empty when it changes nothing.
    pub fn changes(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff("name", json!(self.name), json!(next.name));
        changes.diff(
            "min_selections",
            json!(self.min_selections),
            json!(next.min_selections),
        );
        changes.diff(
            "max_selections",
            json!(self.max_selections),
            json!(next.max_selections),
        );
        changes.diff(
            "allow_repeats",
            json!(self.allow_repeats),
            json!(next.allow_repeats),
        );
        changes.diff(
            "modifiers",
            modifiers_json(&self.modifiers),
            modifiers_json(&next.modifiers),
        );
        changes.diff("archived", json!(self.archived), json!(next.archived));
        changes
    }
}

fn modifiers_json(list: &[NewModifier]) -> Value {
    list.iter()
        .map(|m| json!({"id": m.id, "name": m.name, "price_delta_minor": m.price_delta_minor}))
        .collect()
}

/// Writes `next` (validated, its modifier ids checked to be live modifiers of the group) over
/// group `id`: the group row is always updated (`version + 1`, a new `change_seq` that covers
/// the modifiers), listed modifiers are updated or inserted at their list position, live ones
/// not listed are archived. Call it only when [`GroupState::changes`] is not empty.
pub async fn write_group(
    tx: &Transaction<'_>,
    tenant: Uuid,
    id: Uuid,
    next: &GroupState,
) -> Result<ModifierGroupView, Error> {
    tx.execute(
        "UPDATE catalog.modifier_groups
         SET name = $2, min_selections = $3, max_selections = $4, allow_repeats = $5,
             archived_at = CASE WHEN $6 THEN COALESCE(archived_at, now()) END,
             version = version + 1, updated_at = now()
         WHERE id = $1",
        &[
            &id,
            &next.name,
            &next.min_selections,
            &next.max_selections,
            &next.allow_repeats,
            &next.archived,
        ],
    )
    .await?;
    let ids: Vec<Uuid> = next
        .modifiers
        .iter()
        .map(|m| m.id.unwrap_or_else(Uuid::now_v7))
        .collect();
    tx.execute(
        "UPDATE catalog.modifiers SET archived_at = now(), updated_at = now()
         WHERE group_id = $1 AND archived_at IS NULL AND id <> ALL($2)",
        &[&id, &ids],
    )
    .await?;
    if !ids.is_empty() {
        let names: Vec<&str> = next.modifiers.iter().map(|m| m.name.as_str()).collect();
        let deltas: Vec<i64> = next.modifiers.iter().map(|m| m.price_delta_minor).collect();
        let positions: Vec<i32> = (0..ids.len())
            .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        // The group guard in the conflict clause keeps a foreign id from ever moving a row.
        tx.execute(
            "INSERT INTO catalog.modifiers AS m (id, tenant_id, group_id, name,
                                                 price_delta_minor, position)
             SELECT i, $1, $2, n, d, p
             FROM unnest($3::uuid[], $4::text[], $5::int8[], $6::int4[]) AS t(i, n, d, p)
             ON CONFLICT (id) DO UPDATE
                SET name = excluded.name, price_delta_minor = excluded.price_delta_minor,
                    position = excluded.position, updated_at = now()
                WHERE m.group_id = excluded.group_id
                  AND (m.name, m.price_delta_minor, m.position)
                      IS DISTINCT FROM (excluded.name, excluded.price_delta_minor,
                                        excluded.position)",
            &[&tenant, &id, &ids, &names, &deltas, &positions],
        )
        .await?;
    }
    write::load_modifier_group(tx, id).await
}

// ---------------------------------------------------------------------------------------------
// The rows.

/// A category row: `POST /v1/categories` plus `parent_key` (absent or null: a root).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImportCategory {
    #[serde(flatten)]
    pub category: NewCategory,
    #[serde(default)]
    pub parent_key: Option<String>,
    /// Set for categories the CSV form names: they are created as roots, and an existing one
    /// only takes the name (its place in the tree is left alone).
    #[serde(skip)]
    pub name_only: bool,
}

/// A product row: `POST /v1/products` (variants with their `key`s) plus `category_key` and
/// `modifier_group_keys`. A product given by its product-level price has one default variant
/// whose key is the product's.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImportProduct {
    #[serde(flatten)]
    pub product: NewProduct,
    #[serde(default)]
    pub category_key: Option<String>,
    #[serde(default)]
    pub modifier_group_keys: Vec<String>,
}

/// The JSON body. Rows stay JSON until [`Batch::from_json`], so that a malformed row is one
/// row error among the others instead of failing the whole body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[serde(default)]
    pub categories: Vec<Value>,
    #[serde(default)]
    pub modifier_groups: Vec<Value>,
    #[serde(default)]
    pub products: Vec<Value>,
}

impl ImportBody {
    /// Rows as [`MAX_ROWS`] counts them.
    pub fn row_count(&self) -> usize {
        let variants: usize = self
            .products
            .iter()
            .map(|p| {
                p.get("variants")
                    .and_then(Value::as_array)
                    .map_or(1, |v| v.len().max(1))
            })
            .sum();
        self.categories.len() + self.modifier_groups.len() + variants
    }
}

/// Where a row error is: a section of the body, or (`csv`) a record of a CSV body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Categories,
    ModifierGroups,
    Products,
    Csv,
}

/// One reason the batch was refused: the row (`index` in its section, from 0; for `csv`, the
/// line number), its key, and the code and detail the single endpoint would have answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub section: Section,
    pub index: usize,
    pub key: Option<String>,
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The CSV line the row came from (its first line, for a product).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// One parsed row with where it came from.
#[derive(Debug, Clone)]
pub struct Row<T> {
    pub index: usize,
    pub line: Option<usize>,
    pub value: T,
}

/// A parsed batch, with the errors of rows that did not even parse.
#[derive(Debug, Default)]
pub struct Batch {
    pub categories: Vec<Row<ImportCategory>>,
    pub modifier_groups: Vec<Row<NewModifierGroup>>,
    pub products: Vec<Row<ImportProduct>>,
    pub errors: Vec<RowError>,
}

fn row_key(value: &Value) -> Option<String> {
    value.get("key").and_then(Value::as_str).map(str::to_owned)
}

fn parse_rows<T: serde::de::DeserializeOwned>(
    section: Section,
    rows: Vec<Value>,
    errors: &mut Vec<RowError>,
) -> Vec<Row<T>> {
    let mut parsed = Vec::with_capacity(rows.len());
    for (index, value) in rows.into_iter().enumerate() {
        let key = row_key(&value);
        match serde_json::from_value::<T>(value) {
            Ok(value) => parsed.push(Row {
                index,
                line: None,
                value,
            }),
            Err(e) => errors.push(RowError {
                section,
                index,
                key,
                code: "invalid_row".to_owned(),
                detail: e.to_string(),
                field: None,
                line: None,
            }),
        }
    }
    parsed
}

impl Batch {
    /// The rows of a JSON body, each parsed on its own.
    pub fn from_json(body: ImportBody) -> Self {
        let mut errors = Vec::new();
        let categories = parse_rows(Section::Categories, body.categories, &mut errors);
        let modifier_groups =
            parse_rows(Section::ModifierGroups, body.modifier_groups, &mut errors);
        let products = parse_rows(Section::Products, body.products, &mut errors);
        Self {
            categories,
            modifier_groups,
            products,
            errors,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The outcome.

/// What the import did to one row's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// One row's object and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedItem {
    pub section: Section,
    pub key: String,
    pub id: Uuid,
    pub outcome: Outcome,
}

/// The answer of a successful import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub items: Vec<ImportedItem>,
}

impl ImportReport {
    fn push(&mut self, section: Section, key: &str, id: Uuid, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
        self.items.push(ImportedItem {
            section,
            key: key.to_owned(),
            id,
            outcome,
        });
    }
}

/// Why an import wrote nothing: the batch's row errors, or a failure of the request itself.
#[derive(Debug)]
pub enum Failure {
    Rows(Vec<RowError>),
    Error(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Error(error)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Error(error.into())
    }
}

impl Failure {
    /// The problem to answer: 422 `import_invalid` with the `errors` list, or the error.
    pub fn into_error(self) -> Error {
        match self {
            Self::Rows(errors) => {
                let count = errors.len();
                Error::unprocessable(
                    "import_invalid",
                    format!("{count} row(s) of the import are invalid; nothing was written."),
                )
                .with_extension(
                    "errors",
                    serde_json::to_value(errors).unwrap_or(Value::Null),
                )
            }
            Self::Error(error) => error,
        }
    }
}

/// 422 `import_too_large` for a batch of more than [`MAX_ROWS`] rows.
pub fn too_large(rows: usize) -> Error {
    Error::unprocessable(
        "import_too_large",
        format!("An import holds at most {MAX_ROWS} rows; this one has {rows}."),
    )
    .with_extension("max_rows", MAX_ROWS)
}

// ---------------------------------------------------------------------------------------------
// Pure validation.

fn field_of(error: &Error) -> Option<String> {
    error
        .problem()
        .extensions
        .get("field")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Collects the errors of one batch, each tagged with its row.
#[derive(Debug, Default)]
struct Errors(Vec<RowError>);

impl Errors {
    fn add<T>(&mut self, section: Section, row: &Row<T>, key: Option<&str>, error: &Error) {
        self.add_at(section, row, key, error, field_of(error));
    }

    fn add_at<T>(
        &mut self,
        section: Section,
        row: &Row<T>,
        key: Option<&str>,
        error: &Error,
        field: Option<String>,
    ) {
        self.0.push(RowError {
            section,
            index: row.index,
            key: key.map(str::to_owned),
            code: error.code().to_owned(),
            detail: error.detail().unwrap_or_default().to_owned(),
            field,
            line: row.line,
        });
    }
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// The row's own key, required (422 `missing_key`, `invalid_key`).
fn required_key(key: Option<&str>, field: &str) -> Result<String, Error> {
    match key {
        None => Err(invalid(
            "missing_key",
            field,
            "Every imported row needs a `key`.",
        )),
        Some(key) => validate::external_key(key).map_err(|_| {
            invalid(
                "invalid_key",
                field,
                "A key is 1 to 200 characters without control characters.",
            )
        }),
    }
}

/// A reference key (`parent_key`, `category_key`, ...): 422 `invalid_key` naming `field`.
fn reference_key(key: &str, field: &str) -> Result<String, Error> {
    validate::external_key(key).map_err(|_| {
        invalid(
            "invalid_key",
            field,
            "A key is 1 to 200 characters without control characters.",
        )
    })
}

fn id_refused(field: &str, instead: &str) -> Error {
    invalid(
        "unexpected_id",
        field,
        format!("Imported rows reference other objects by key: use `{instead}`."),
    )
}

#[derive(Debug)]
struct CategoryPlan {
    row: usize,
    key: String,
    name: String,
    parent_key: Option<String>,
    position: Option<i32>,
    name_only: bool,
}

#[derive(Debug)]
struct GroupPlan {
    row: usize,
    key: String,
    state: GroupState,
}

#[derive(Debug)]
struct ProductPlan {
    row: usize,
    key: String,
    fields: write::ProductFields,
    category_key: Option<String>,
    group_keys: Vec<String>,
    variants: Vec<VariantFields>,
    /// The body `create_product` takes (shorthand turned into one keyed variant); its
    /// references are filled in when written.
    new: NewProduct,
}

fn check_category(row: &ImportCategory) -> Result<(String, CategoryPlan), Error> {
    let key = required_key(row.category.key.as_deref(), "key")?;
    if row.category.parent_id.is_some() {
        return Err(id_refused("parent_id", "parent_key"));
    }
    let name = validate::name("name", &row.category.name)?;
    let parent_key = row
        .parent_key
        .as_deref()
        .map(|k| reference_key(k, "parent_key"))
        .transpose()?;
    if parent_key.as_deref() == Some(key.as_str()) {
        return Err(invalid(
            "category_cycle",
            "parent_key",
            "A category cannot be its own parent.",
        ));
    }
    Ok((
        key.clone(),
        CategoryPlan {
            row: 0,
            key,
            name,
            parent_key,
            position: row.category.position,
            name_only: row.name_only,
        },
    ))
}

fn check_group(row: &NewModifierGroup) -> Result<GroupPlan, Error> {
    let key = required_key(row.key.as_deref(), "key")?;
    if row.modifiers.iter().any(|m| m.id.is_some()) {
        return Err(invalid(
            "unexpected_modifier_id",
            "modifiers",
            "Imported modifiers are matched by name; they carry no id.",
        ));
    }
    let state = GroupState {
        name: row.name.clone(),
        min_selections: row.min_selections,
        max_selections: row.max_selections,
        allow_repeats: row.allow_repeats,
        modifiers: row.modifiers.clone(),
        archived: false,
    }
    .validated()?;
    Ok(GroupPlan { row: 0, key, state })
}

/// A product row checked on its own; variant errors name their variant in `field`
/// (`variants[2].price_minor`).
fn check_product(row: &ImportProduct) -> Result<ProductPlan, Box<(Error, Option<String>)>> {
    let plain = |e: Error| {
        let field = field_of(&e);
        Box::new((e, field))
    };
    let key = required_key(row.product.key.as_deref(), "key").map_err(plain)?;
    if row.product.category_id.is_some() {
        return Err(plain(id_refused("category_id", "category_key")));
    }
    if !row.product.modifier_group_ids.is_empty() {
        return Err(plain(id_refused(
            "modifier_group_ids",
            "modifier_group_keys",
        )));
    }
    let mut new = row.product.clone();
    if new.variants.is_empty() && new.price_minor.is_some() && new.options.is_none() {
        // The default variant of a product given by its price carries the product's key.
        new.variants = vec![NewVariant {
            name: None,
            option_values: json!({}),
            sku: new.sku.take(),
            barcode: new.barcode.take(),
            price_minor: new.price_minor.take().unwrap_or_default(),
            cost_minor: new.cost_minor.take(),
            track_inventory: new.track_inventory.take(),
            position: Some(0),
            key: Some(key.clone()),
        }];
    }
    let (fields, variants) = new.validate().map_err(plain)?;
    let mut checked = Vec::with_capacity(variants.len());
    for (i, variant) in variants.iter().enumerate() {
        let in_variant = |e: Error| {
            let field = format!("variants[{i}].{}", field_of(&e).unwrap_or_default());
            Box::new((e, Some(field)))
        };
        required_key(variant.key.as_deref(), "key").map_err(in_variant)?;
        checked.push(
            variant
                .validate(&fields.options, &fields.name)
                .map_err(in_variant)?,
        );
    }
    write::ensure_distinct(&checked).map_err(plain)?;
    let category_key = row
        .category_key
        .as_deref()
        .map(|k| reference_key(k, "category_key"))
        .transpose()
        .map_err(plain)?;
    let mut group_keys = Vec::with_capacity(row.modifier_group_keys.len());
    for group_key in &row.modifier_group_keys {
        let group_key = reference_key(group_key, "modifier_group_keys").map_err(plain)?;
        if group_keys.contains(&group_key) {
            return Err(plain(invalid(
                "duplicate_modifier_group",
                "modifier_group_keys",
                format!("Modifier group {group_key:?} is listed twice."),
            )));
        }
        group_keys.push(group_key);
    }
    Ok(ProductPlan {
        row: 0,
        key,
        fields,
        category_key,
        group_keys,
        variants: checked,
        new,
    })
}

/// Everything validated, ready to be resolved against the tenant's catalog.
#[derive(Debug, Default)]
struct Plan {
    categories: Vec<CategoryPlan>,
    groups: Vec<GroupPlan>,
    products: Vec<ProductPlan>,
}

fn duplicate_key(field: &str, key: &str) -> Error {
    invalid(
        "duplicate_key",
        field,
        format!("Key {key:?} appears more than once in this import."),
    )
}

/// The pure checks of every row, with duplicate keys within the batch.
fn check_rows(batch: &Batch, errors: &mut Errors) -> Plan {
    let mut plan = Plan::default();
    let mut seen = HashSet::new();
    for (position, row) in batch.categories.iter().enumerate() {
        let key = row.value.category.key.as_deref();
        match check_category(&row.value) {
            Ok((key, mut category)) => {
                if seen.insert(key.clone()) {
                    category.row = position;
                    plan.categories.push(category);
                } else {
                    errors.add(
                        Section::Categories,
                        row,
                        Some(&key),
                        &duplicate_key("key", &key),
                    );
                }
            }
            Err(e) => errors.add(Section::Categories, row, key, &e),
        }
    }
    let mut seen = HashSet::new();
    for (position, row) in batch.modifier_groups.iter().enumerate() {
        let key = row.value.key.as_deref();
        match check_group(&row.value) {
            Ok(mut group) => {
                if seen.insert(group.key.clone()) {
                    group.row = position;
                    plan.groups.push(group);
                } else {
                    errors.add(
                        Section::ModifierGroups,
                        row,
                        key,
                        &duplicate_key("key", &group.key),
                    );
                }
            }
            Err(e) => errors.add(Section::ModifierGroups, row, key, &e),
        }
    }
    let mut seen = HashSet::new();
    let mut variant_keys = HashSet::new();
    let mut skus = HashSet::new();
    let mut barcodes = HashSet::new();
    for (position, row) in batch.products.iter().enumerate() {
        let key = row.value.product.key.as_deref();
        let mut product = match check_product(&row.value) {
            Ok(product) => product,
            Err(fault) => {
                let (e, field) = *fault;
                errors.add_at(Section::Products, row, key, &e, field);
                continue;
            }
        };
        if !seen.insert(product.key.clone()) {
            errors.add(
                Section::Products,
                row,
                key,
                &duplicate_key("key", &product.key),
            );
            continue;
        }
        let mut clash = None;
        for (i, variant) in product.variants.iter().enumerate() {
            let variant_key = variant.key.clone().unwrap_or_default();
            if !variant_keys.insert(variant_key.clone()) {
                clash = Some((
                    duplicate_key("variants.key", &variant_key),
                    format!("variants[{i}].key"),
                ));
            } else if let Some(sku) = &variant.sku
                && !skus.insert(sku.clone())
            {
                clash = Some((
                    invalid(
                        "duplicate_sku",
                        "sku",
                        format!("SKU {sku:?} appears more than once in this import."),
                    ),
                    format!("variants[{i}].sku"),
                ));
            } else if let Some(barcode) = &variant.barcode
                && !barcodes.insert(barcode.clone())
            {
                clash = Some((
                    invalid(
                        "duplicate_barcode",
                        "barcode",
                        format!("Barcode {barcode:?} appears more than once in this import."),
                    ),
                    format!("variants[{i}].barcode"),
                ));
            }
            if clash.is_some() {
                break;
            }
        }
        if let Some((e, field)) = clash {
            errors.add_at(Section::Products, row, key, &e, Some(field));
            continue;
        }
        product.row = position;
        plan.products.push(product);
    }
    plan
}

// ---------------------------------------------------------------------------------------------
// Resolution against the tenant's catalog.

#[derive(Debug, Clone)]
struct ExistingCategory {
    view: CategoryView,
}

/// The tenant's catalog as far as the batch touches it.
#[derive(Debug, Default)]
struct Existing {
    /// Every category of the tenant (the tree check needs all of them), by id.
    categories: HashMap<Uuid, ExistingCategory>,
    category_keys: HashMap<String, Uuid>,
    groups: HashMap<String, ModifierGroupView>,
    products: HashMap<String, ProductView>,
    /// Owners of the batch's variant keys: key → product id.
    variant_owners: HashMap<String, Uuid>,
}

async fn load_existing(tx: &Transaction<'_>, plan: &Plan) -> Result<Existing, Error> {
    let mut existing = Existing::default();
    let rows = tx
        .query(
            &format!("SELECT {CATEGORY_COLUMNS} FROM catalog.categories"),
            &[],
        )
        .await?;
    for row in &rows {
        let view = CategoryView::from_row(row)?;
        if let Some(key) = &view.external_key {
            existing.category_keys.insert(key.clone(), view.id);
        }
        existing
            .categories
            .insert(view.id, ExistingCategory { view });
    }
    let group_keys: Vec<&str> = plan
        .groups
        .iter()
        .map(|g| g.key.as_str())
        .chain(
            plan.products
                .iter()
                .flat_map(|p| p.group_keys.iter().map(String::as_str)),
        )
        .collect();
    if !group_keys.is_empty() {
        let rows = tx
            .query(
                &format!(
                    "SELECT {MODIFIER_GROUP_COLUMNS} FROM catalog.modifier_groups m
                     WHERE m.external_key = ANY($1)"
                ),
                &[&group_keys],
            )
            .await?;
        for row in &rows {
            let view = ModifierGroupView::from_row(row)?;
            if let Some(key) = view.external_key.clone() {
                existing.groups.insert(key, view);
            }
        }
    }
    let product_keys: Vec<&str> = plan.products.iter().map(|p| p.key.as_str()).collect();
    if !product_keys.is_empty() {
        let ids: Vec<Uuid> = tx
            .query(
                "SELECT id FROM catalog.products WHERE external_key = ANY($1)",
                &[&product_keys],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        for product in load_products(tx, &ids).await? {
            if let Some(key) = product.external_key.clone() {
                existing.products.insert(key, product);
            }
        }
        let variant_keys: Vec<&str> = plan
            .products
            .iter()
            .flat_map(|p| p.variants.iter().filter_map(|v| v.key.as_deref()))
            .collect();
        let rows = tx
            .query(
                "SELECT external_key, product_id FROM catalog.variants
                 WHERE external_key = ANY($1)",
                &[&variant_keys],
            )
            .await?;
        for row in &rows {
            existing
                .variant_owners
                .insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(existing)
}

/// How a reference key resolves: to a row of the batch (always live once written) or to an
/// existing object (which must be live).
fn resolves(in_batch: bool, existing_live: Option<bool>) -> bool {
    in_batch || existing_live == Some(true)
}

/// The reference and tree checks.
fn check_references(batch: &Batch, plan: &Plan, existing: &Existing, errors: &mut Errors) {
    let batch_categories: HashSet<&str> = plan.categories.iter().map(|c| c.key.as_str()).collect();
    let live_category = |key: &str| {
        existing
            .category_keys
            .get(key)
            .and_then(|id| existing.categories.get(id))
            .map(|c| c.view.archived_at.is_none())
    };
    for category in &plan.categories {
        let row = &batch.categories[category.row];
        if let Some(parent) = &category.parent_key
            && !resolves(
                batch_categories.contains(parent.as_str()),
                live_category(parent),
            )
        {
            errors.add(
                Section::Categories,
                row,
                Some(&category.key),
                &invalid(
                    "unknown_parent",
                    "parent_key",
                    format!("No live category with key {parent:?}, here or in the catalog."),
                ),
            );
        }
    }
    check_tree(batch, plan, existing, errors);

    let batch_groups: HashSet<&str> = plan.groups.iter().map(|g| g.key.as_str()).collect();
    for product in &plan.products {
        let row = &batch.products[product.row];
        let key = Some(product.key.as_str());
        if let Some(category) = &product.category_key
            && !resolves(
                batch_categories.contains(category.as_str()),
                live_category(category),
            )
        {
            errors.add(
                Section::Products,
                row,
                key,
                &invalid(
                    "unknown_category",
                    "category_key",
                    format!("No live category with key {category:?}, here or in the catalog."),
                ),
            );
        }
        for group in &product.group_keys {
            let live = existing.groups.get(group).map(|g| g.archived_at.is_none());
            if !resolves(batch_groups.contains(group.as_str()), live) {
                errors.add(
                    Section::Products,
                    row,
                    key,
                    &invalid(
                        "unknown_modifier_group",
                        "modifier_group_keys",
                        format!(
                            "No live modifier group with key {group:?}, here or in the catalog."
                        ),
                    ),
                );
            }
        }
        let own_id = existing.products.get(&product.key).map(|p| p.id);
        for (i, variant) in product.variants.iter().enumerate() {
            let Some(variant_key) = &variant.key else {
                continue;
            };
            if let Some(owner) = existing.variant_owners.get(variant_key)
                && Some(*owner) != own_id
            {
                errors.add_at(
                    Section::Products,
                    row,
                    key,
                    &Error::unprocessable(
                        "key_in_use",
                        format!("Variant key {variant_key:?} belongs to another product."),
                    ),
                    Some(format!("variants[{i}].key")),
                );
            }
        }
    }
}

/// No cycles, no category deeper than [`MAX_DEPTH`], at most [`MAX_CATEGORIES`] live ones,
/// in the tree as it would be after the import (existing categories with the batch's moves).
fn check_tree(batch: &Batch, plan: &Plan, existing: &Existing, errors: &mut Errors) {
    // Every category of the resulting tree by id: existing ids, fresh ones for new keys.
    let mut ids: HashMap<&str, Uuid> = HashMap::new();
    for category in &plan.categories {
        let id = existing
            .category_keys
            .get(&category.key)
            .copied()
            .unwrap_or_else(Uuid::new_v4);
        ids.insert(category.key.as_str(), id);
    }
    let mut parents: HashMap<Uuid, Option<Uuid>> = existing
        .categories
        .values()
        .filter(|c| c.view.archived_at.is_none())
        .map(|c| (c.view.id, c.view.parent_id))
        .collect();
    let mut batch_rows: HashMap<Uuid, &CategoryPlan> = HashMap::new();
    for category in &plan.categories {
        let id = ids[category.key.as_str()];
        let current_parent = existing.categories.get(&id).and_then(|c| c.view.parent_id);
        let parent = if category.name_only {
            current_parent
        } else {
            category.parent_key.as_deref().and_then(|k| {
                ids.get(k)
                    .copied()
                    .or_else(|| existing.category_keys.get(k).copied())
            })
        };
        parents.insert(id, parent);
        batch_rows.insert(id, category);
    }
    let report = |errors: &mut Errors, category: &CategoryPlan, error: Error| {
        let row = &batch.categories[category.row];
        errors.add(Section::Categories, row, Some(&category.key), &error);
    };
    // Cycles: a batch row whose chain of parents comes back to it.
    let mut in_cycle = HashSet::new();
    for (id, category) in &batch_rows {
        let mut node = parents.get(id).copied().flatten();
        let mut steps = 0;
        while let Some(current) = node {
            if current == *id {
                in_cycle.insert(*id);
                report(
                    errors,
                    category,
                    invalid(
                        "category_cycle",
                        "parent_key",
                        "The parents of this category lead back to it.",
                    ),
                );
                break;
            }
            steps += 1;
            if steps > parents.len() {
                break;
            }
            node = parents.get(&current).copied().flatten();
        }
    }
    if !in_cycle.is_empty() {
        return;
    }
    // Depth: any category too deep is blamed on the nearest batch row at or above it.
    let mut blamed = HashSet::new();
    for id in parents.keys() {
        let mut chain = vec![*id];
        let mut node = parents.get(id).copied().flatten();
        while let Some(current) = node {
            chain.push(current);
            if chain.len() > parents.len() + 1 {
                break;
            }
            node = parents.get(&current).copied().flatten();
        }
        if i32::try_from(chain.len()).unwrap_or(i32::MAX) > MAX_DEPTH
            && let Some(culprit) = chain.iter().find(|n| batch_rows.contains_key(n))
            && blamed.insert(*culprit)
        {
            report(errors, batch_rows[culprit], tree::too_deep());
        }
    }
    // The live-category limit, counting restored and new ones.
    let live = i64::try_from(parents.len()).unwrap_or(i64::MAX);
    if live > MAX_CATEGORIES
        && let Some(category) = plan
            .categories
            .iter()
            .find(|c| !existing.category_keys.contains_key(&c.key))
    {
        report(
            errors,
            category,
            Error::unprocessable(
                "too_many_categories",
                format!("A tenant has at most {MAX_CATEGORIES} live categories."),
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Runs the import in `tx` (the caller's tenant transaction; commit it on `Ok`, drop it on
/// `Err`): checks everything, then writes, recording `catalog.product.created` (and
/// `catalog.product.updated` / `catalog.price.changed` for changed products) in `outbox`.
pub async fn run(
    tx: &Transaction<'_>,
    tenant: Uuid,
    batch: Batch,
    outbox: &mut Outbox,
) -> Result<ImportReport, Failure> {
    // Imports and category moves of the tenant take turns: the checks below then still hold
    // when the rows are written, and two imports of one new key cannot both create it.
    tree::lock_tree(tx, tenant).await?;
    let mut errors = Errors(batch.errors.clone());
    let plan = check_rows(&batch, &mut errors);
    let existing = load_existing(tx, &plan).await?;
    check_references(&batch, &plan, &existing, &mut errors);
    if !errors.0.is_empty() {
        let mut list = errors.0;
        list.sort_by_key(|e| (e.section as u8, e.index));
        return Err(Failure::Rows(list));
    }

    let mut report = ImportReport::default();
    let mut category_ids: HashMap<String, Uuid> = existing.category_keys.clone();
    write_categories(
        tx,
        tenant,
        &batch,
        &plan,
        &existing,
        &mut category_ids,
        &mut report,
    )
    .await?;
    let mut group_ids: HashMap<String, Uuid> = existing
        .groups
        .iter()
        .map(|(k, g)| (k.clone(), g.id))
        .collect();
    for group in &plan.groups {
        let row = &batch.modifier_groups[group.row];
        let (id, outcome) = write_one_group(tx, tenant, group, existing.groups.get(&group.key))
            .await
            .map_err(|e| row_failure(Section::ModifierGroups, row, &group.key, e))?;
        group_ids.insert(group.key.clone(), id);
        report.push(Section::ModifierGroups, &group.key, id, outcome);
    }
    for product in &plan.products {
        let row = &batch.products[product.row];
        let category_id = product
            .category_key
            .as_ref()
            .and_then(|k| category_ids.get(k).copied());
        let groups: Vec<Uuid> = product
            .group_keys
            .iter()
            .filter_map(|k| group_ids.get(k).copied())
            .collect();
        let (id, outcome) = write_product(
            tx,
            tenant,
            product,
            category_id,
            groups,
            existing.products.get(&product.key),
            outbox,
        )
        .await
        .map_err(|e| row_failure(Section::Products, row, &product.key, e))?;
        report.push(Section::Products, &product.key, id, outcome);
    }
    Ok(report)
}

/// A write that failed mid-way: a client-class failure (a constraint, say a SKU another
/// product uses) is that row's error; anything else stays the request's error. Either way the
/// caller drops the transaction, so nothing is written.
fn row_failure<T>(section: Section, row: &Row<T>, key: &str, error: Error) -> Failure {
    if error.status().is_client_error() {
        let mut errors = Errors::default();
        errors.add(section, row, Some(key), &error);
        Failure::Rows(errors.0)
    } else {
        Failure::Error(error)
    }
}

async fn write_categories(
    tx: &Transaction<'_>,
    tenant: Uuid,
    batch: &Batch,
    plan: &Plan,
    existing: &Existing,
    ids: &mut HashMap<String, Uuid>,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let batch_keys: HashSet<&str> = plan.categories.iter().map(|c| c.key.as_str()).collect();
    let mut outcomes: Vec<Option<(Uuid, Outcome)>> = vec![None; plan.categories.len()];
    let mut done: HashSet<&str> = HashSet::new();
    // Parents first: a row waits until its parent (when it is a row of this batch) is written.
    // The tree check has ruled out cycles, so every pass writes at least one row.
    while done.len() < plan.categories.len() {
        let before = done.len();
        for (i, category) in plan.categories.iter().enumerate() {
            if done.contains(category.key.as_str()) {
                continue;
            }
            let waits = !category.name_only
                && category
                    .parent_key
                    .as_deref()
                    .is_some_and(|p| batch_keys.contains(p) && !done.contains(p));
            if waits {
                continue;
            }
            let row = &batch.categories[category.row];
            let current = existing
                .category_keys
                .get(&category.key)
                .and_then(|id| existing.categories.get(id));
            let parent_id = category
                .parent_key
                .as_ref()
                .and_then(|k| ids.get(k).copied());
            let written = write_category(tx, tenant, category, parent_id, current.map(|c| &c.view))
                .await
                .map_err(|e| row_failure(Section::Categories, row, &category.key, e))?;
            ids.insert(category.key.clone(), written.0);
            outcomes[i] = Some(written);
            done.insert(category.key.as_str());
        }
        if done.len() == before {
            return Err(Failure::Error(Error::internal(std::io::Error::other(
                "import: category rows left unordered",
            ))));
        }
    }
    for (category, outcome) in plan.categories.iter().zip(outcomes) {
        if let Some((id, outcome)) = outcome {
            report.push(Section::Categories, &category.key, id, outcome);
        }
    }
    Ok(())
}

async fn write_category(
    tx: &Transaction<'_>,
    tenant: Uuid,
    category: &CategoryPlan,
    parent_id: Option<Uuid>,
    current: Option<&CategoryView>,
) -> Result<(Uuid, Outcome), Error> {
    let Some(current) = current else {
        let view = write::create_category(
            tx,
            tenant,
            NewCategory {
                name: category.name.clone(),
                parent_id: if category.name_only { None } else { parent_id },
                position: category.position,
                key: Some(category.key.clone()),
            },
        )
        .await?;
        return Ok((view.id, Outcome::Created));
    };
    let parent_id = if category.name_only {
        current.parent_id
    } else {
        parent_id
    };
    let position = category.position.unwrap_or(current.position);
    let same = current.name == category.name
        && current.parent_id == parent_id
        && current.position == position
        && current.archived_at.is_none();
    if same {
        return Ok((current.id, Outcome::Unchanged));
    }
    tx.execute(
        "UPDATE catalog.categories
         SET name = $2, parent_id = $3, position = $4, archived_at = NULL,
             version = version + 1, updated_at = now()
         WHERE id = $1",
        &[&current.id, &category.name, &parent_id, &position],
    )
    .await?;
    Ok((current.id, Outcome::Updated))
}

async fn write_one_group(
    tx: &Transaction<'_>,
    tenant: Uuid,
    group: &GroupPlan,
    current: Option<&ModifierGroupView>,
) -> Result<(Uuid, Outcome), Error> {
    let Some(current) = current else {
        let new = NewModifierGroup {
            name: group.state.name.clone(),
            min_selections: group.state.min_selections,
            max_selections: group.state.max_selections,
            allow_repeats: group.state.allow_repeats,
            modifiers: group.state.modifiers.clone(),
            key: Some(group.key.clone()),
        };
        let view = write::create_modifier_group(tx, tenant, &new).await?;
        return Ok((view.id, Outcome::Created));
    };
    let before = GroupState::of(current);
    // Modifiers keep their ids (and so the picks of open carts) when their name stays.
    let mut next = group.state.clone();
    for modifier in &mut next.modifiers {
        modifier.id = current
            .modifiers
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(&modifier.name))
            .map(|m| m.id);
    }
    if before.changes(&next).is_empty() {
        return Ok((current.id, Outcome::Unchanged));
    }
    write_group(tx, tenant, current.id, &next).await?;
    Ok((current.id, Outcome::Updated))
}

async fn write_product(
    tx: &Transaction<'_>,
    tenant: Uuid,
    product: &ProductPlan,
    category_id: Option<Uuid>,
    group_ids: Vec<Uuid>,
    current: Option<&ProductView>,
    outbox: &mut Outbox,
) -> Result<(Uuid, Outcome), Error> {
    let Some(current) = current else {
        let mut new = product.new.clone();
        new.category_id = category_id;
        new.modifier_group_ids = group_ids;
        let view = write::create_product(tx, tenant, &new).await?;
        outbox
            .record(
                tx,
                Some(tenant),
                &ProductCreated {
                    product_id: view.id,
                    name: view.name.clone(),
                    variant_ids: view.variants.iter().map(|v| v.id).collect(),
                    version: view.version,
                },
            )
            .await?;
        return Ok((view.id, Outcome::Created));
    };
    let fields = &product.fields;
    let mut changes = Changes::new();
    changes.diff("name", json!(current.name), json!(fields.name));
    changes.diff(
        "description",
        json!(current.description),
        json!(fields.description),
    );
    changes.diff(
        "category_id",
        json!(current.category_id),
        json!(category_id),
    );
    changes.diff(
        "tax_category",
        json!(current.tax_category),
        json!(fields.tax_category),
    );
    changes.diff("options", current.options.clone(), fields.options_json());
    changes.diff(
        "dietary_tags",
        json!(current.dietary_tags),
        json!(fields.dietary_tags),
    );
    changes.diff(
        "allergens",
        json!(current.allergens),
        json!(fields.allergens),
    );
    changes.diff(
        "image_urls",
        json!(current.image_urls),
        json!(fields.image_urls),
    );
    changes.diff(
        "modifier_group_ids",
        json!(current.modifier_group_ids),
        json!(group_ids),
    );
    changes.diff(
        "archived",
        json!(current.archived_at.is_some()),
        json!(false),
    );
    let mut version = current.version;
    if !changes.is_empty() {
        let row = tx
            .query_one(
                "UPDATE catalog.products
                 SET category_id = $2, name = $3, description = $4, tax_category = $5,
                     options = $6, dietary_tags = $7, allergens = $8, image_urls = $9,
                     archived_at = NULL, version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING version",
                &[
                    &current.id,
                    &category_id,
                    &fields.name,
                    &fields.description,
                    &fields.tax_category,
                    &fields.options_json(),
                    &fields.dietary_tags,
                    &fields.allergens,
                    &fields.image_urls,
                ],
            )
            .await?;
        version = row.try_get(0)?;
        if changes.changed().contains(&"modifier_group_ids") {
            set_product_modifier_groups(tx, tenant, current.id, &group_ids).await?;
        }
    }
    let variants_changed = write_variants(tx, tenant, product, current, outbox).await?;
    if changes.is_empty() && !variants_changed {
        return Ok((current.id, Outcome::Unchanged));
    }
    let mut changed: Vec<String> = changes.changed().iter().map(|c| (*c).to_owned()).collect();
    if variants_changed {
        changed.push("variants".to_owned());
    }
    outbox
        .record(
            tx,
            Some(tenant),
            &ProductUpdated {
                product_id: current.id,
                variant_id: None,
                changed,
                version,
            },
        )
        .await?;
    Ok((current.id, Outcome::Updated))
}

/// Makes the product's variants the listed ones; whether anything changed.
async fn write_variants(
    tx: &Transaction<'_>,
    tenant: Uuid,
    product: &ProductPlan,
    current: &ProductView,
    outbox: &mut Outbox,
) -> Result<bool, Error> {
    let listed: HashSet<&str> = product
        .variants
        .iter()
        .filter_map(|v| v.key.as_deref())
        .collect();
    // Archive first, so a listed variant may take over the SKU or barcode of one that goes.
    let gone: Vec<Uuid> = current
        .variants
        .iter()
        .filter(|v| {
            v.archived_at.is_none()
                && v.external_key
                    .as_deref()
                    .is_none_or(|k| !listed.contains(k))
        })
        .map(|v| v.id)
        .collect();
    let mut changed = !gone.is_empty();
    if changed {
        tx.execute(
            "UPDATE catalog.variants
             SET archived_at = now(), version = version + 1, updated_at = now()
             WHERE id = ANY($1)",
            &[&gone],
        )
        .await?;
    }
    for (index, variant) in product.variants.iter().enumerate() {
        let position = variant
            .position
            .unwrap_or_else(|| i32::try_from(index).unwrap_or(i32::MAX));
        let existing = current
            .variants
            .iter()
            .find(|v| v.external_key.is_some() && v.external_key == variant.key);
        let Some(existing) = existing else {
            write::insert_variant(tx, tenant, current.id, variant, position).await?;
            changed = true;
            continue;
        };
        let same = existing.name == variant.name
            && existing.option_values == json!(variant.option_values)
            && existing.sku == variant.sku
            && existing.barcode == variant.barcode
            && existing.price_minor == variant.price_minor
            && existing.cost_minor == variant.cost_minor
            && existing.track_inventory == variant.track_inventory
            && existing.position == position
            && existing.archived_at.is_none();
        if same {
            continue;
        }
        changed = true;
        tx.execute(
            "UPDATE catalog.variants
             SET name = $2, option_values = $3, sku = $4, barcode = $5, price_minor = $6,
                 cost_minor = $7, track_inventory = $8, position = $9, archived_at = NULL,
                 version = version + 1, updated_at = now()
             WHERE id = $1",
            &[
                &existing.id,
                &variant.name,
                &json!(variant.option_values),
                &variant.sku,
                &variant.barcode,
                &variant.price_minor,
                &variant.cost_minor,
                &variant.track_inventory,
                &position,
            ],
        )
        .await?;
        if existing.price_minor != variant.price_minor {
            outbox
                .record(
                    tx,
                    Some(tenant),
                    &PriceChanged {
                        product_id: current.id,
                        variant_id: existing.id,
                        location_id: None,
                        old_price_minor: Some(existing.price_minor),
                        new_price_minor: Some(variant.price_minor),
                    },
                )
                .await?;
        }
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------------------------
// The CSV form.

/// The columns of the CSV form (header names, any order; only the first four are required):
/// one record per variant; records with the same `product_key` make one product, whose
/// product-level columns may be repeated (identically) or left empty after its first record.
pub const CSV_COLUMNS: &[&str] = &[
    "product_key",
    "product_name",
    "variant_key",
    "price_minor",
    "category_key",
    "category_name",
    "description",
    "tax_category",
    "modifier_group_keys",
    "option_values",
    "variant_name",
    "sku",
    "barcode",
    "cost_minor",
    "track_inventory",
    "dietary_tags",
    "allergens",
];

const REQUIRED_CSV_COLUMNS: usize = 4;

fn invalid_csv(line: usize, detail: impl Into<String>) -> Error {
    Error::unprocessable("invalid_csv", detail).with_extension("line", line)
}

/// RFC 4180 records with the line each starts on: fields separated by `,`, records by LF or
/// CRLF, fields in double quotes may hold commas, line breaks and `""` for a quote. Blank lines
/// are skipped. 422 `invalid_csv` for a stray or unterminated quote.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut end_record = |record: &mut Vec<String>, field: &mut String, start: usize| {
        record.push(std::mem::take(field));
        let record = std::mem::take(record);
        if !(record.len() == 1 && record[0].is_empty()) {
            records.push((start, record));
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                end_record(&mut record, &mut field, start);
                quoted = false;
                line += 1;
                start = line;
            }
            _ if quoted || c == '"' => {
                return Err(invalid_csv(
                    line,
                    format!("Line {line}: a quote must enclose a whole field."),
                ));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(invalid_csv(
            start,
            format!("Line {start}: a quoted field is not closed."),
        ));
    }
    if quoted || !field.is_empty() || !record.is_empty() {
        end_record(&mut record, &mut field, start);
    }
    Ok(records)
}

/// A product being assembled from its CSV records.
#[derive(Debug, Default)]
struct CsvProduct {
    key: String,
    line: usize,
    columns: HashMap<&'static str, String>,
    variants: Vec<(Vec<(String, String)>, NewVariant)>,
    bad: bool,
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `Size=Large;Milk=Oat` as (option, value) pairs in order.
fn parse_option_values(value: &str) -> Option<Vec<(String, String)>> {
    split_list(value)
        .iter()
        .map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let (name, value) = (name.trim(), value.trim());
            (!name.is_empty() && !value.is_empty()).then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn csv_error(line: usize, key: Option<&str>, code: &str, field: &str, detail: String) -> RowError {
    RowError {
        section: Section::Csv,
        index: line,
        key: key.map(str::to_owned),
        code: code.to_owned(),
        detail,
        field: Some(field.to_owned()),
        line: Some(line),
    }
}

impl Batch {
    /// The rows of a CSV body (see [`CSV_COLUMNS`]): 422 `invalid_csv` for a body that is not
    /// a CSV table of known columns, `import_too_large` past [`MAX_ROWS`] records; a record
    /// with a bad value is a row error (section `csv`, index = its line) and its product is
    /// left out of the checks that follow.
    pub fn from_csv(text: &str) -> Result<Self, Error> {
        let records = parse_csv(text)?;
        let Some(((header_line, header), records)) = records.split_first() else {
            return Err(invalid_csv(1, "The CSV body has no header record."));
        };
        if records.len() > MAX_ROWS {
            return Err(too_large(records.len()));
        }
        let mut columns: Vec<&'static str> = Vec::with_capacity(header.len());
        for name in header {
            let wanted = name.trim().to_ascii_lowercase();
            let Some(column) = CSV_COLUMNS.iter().find(|c| **c == wanted) else {
                return Err(invalid_csv(
                    *header_line,
                    format!(
                        "Unknown column {name:?}; the columns are {}.",
                        CSV_COLUMNS.join(", ")
                    ),
                ));
            };
            if columns.contains(column) {
                return Err(invalid_csv(
                    *header_line,
                    format!("Column {column:?} appears twice."),
                ));
            }
            columns.push(column);
        }
        if let Some(missing) = CSV_COLUMNS[..REQUIRED_CSV_COLUMNS]
            .iter()
            .find(|c| !columns.contains(c))
        {
            return Err(invalid_csv(
                *header_line,
                format!("The CSV body needs a {missing:?} column."),
            ));
        }

        let mut batch = Self::default();
        let mut products: Vec<CsvProduct> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut categories: Vec<(String, String, usize)> = Vec::new();
        for (line, fields) in records {
            let line = *line;
            if fields.len() != columns.len() {
                batch.errors.push(csv_error(
                    line,
                    None,
                    "invalid_csv",
                    "record",
                    format!(
                        "Line {line} has {} fields; the header has {}.",
                        fields.len(),
                        columns.len()
                    ),
                ));
                continue;
            }
            let value = |column: &str| {
                columns
                    .iter()
                    .position(|c| *c == column)
                    .map_or("", |i| fields[i].trim())
            };
            let product_key = value("product_key");
            let variant_key = value("variant_key");
            let slot = match by_key.get(product_key) {
                Some(slot) => *slot,
                None => {
                    products.push(CsvProduct {
                        key: product_key.to_owned(),
                        line,
                        ..CsvProduct::default()
                    });
                    by_key.insert(product_key.to_owned(), products.len() - 1);
                    products.len() - 1
                }
            };
            let product = &mut products[slot];
            let mut fail = |code: &str, field: &str, detail: String| {
                batch.errors.push(csv_error(
                    line,
                    Some(variant_key).filter(|k| !k.is_empty()),
                    code,
                    field,
                    detail,
                ));
            };
            let mut bad = false;
            for column in [
                "product_name",
                "description",
                "category_key",
                "tax_category",
                "modifier_group_keys",
                "dietary_tags",
                "allergens",
            ] {
                let given = value(column);
                if given.is_empty() {
                    continue;
                }
                match product.columns.get(column) {
                    Some(first) if first != given => {
                        fail(
                            "inconsistent_product",
                            column,
                            format!(
                                "Line {line}: {column} differs from the product's first record \
                                 (line {}).",
                                product.line
                            ),
                        );
                        bad = true;
                    }
                    Some(_) => {}
                    None => {
                        product.columns.insert(column, given.to_owned());
                    }
                }
            }
            let category_key = value("category_key");
            let category_name = value("category_name");
            if !category_name.is_empty() {
                if category_key.is_empty() {
                    fail(
                        "missing_key",
                        "category_key",
                        format!("Line {line}: a category_name needs its category_key."),
                    );
                    bad = true;
                } else if let Some((_, name, first)) =
                    categories.iter().find(|(k, _, _)| k == category_key)
                {
                    if name != category_name {
                        fail(
                            "inconsistent_category",
                            "category_name",
                            format!(
                                "Line {line}: category {category_key:?} is named differently \
                                 on line {first}."
                            ),
                        );
                        bad = true;
                    }
                } else {
                    categories.push((category_key.to_owned(), category_name.to_owned(), line));
                }
            }
            let Some(option_values) = parse_option_values(value("option_values")) else {
                fail(
                    "invalid_option_values",
                    "option_values",
                    format!("Line {line}: option_values is `Name=Value;Name=Value`."),
                );
                product.bad = true;
                continue;
            };
            let money = |column: &str| -> Result<Option<i64>, String> {
                let text = value(column);
                if text.is_empty() {
                    return Ok(None);
                }
                text.parse::<i64>()
                    .map(Some)
                    .map_err(|_| format!("Line {line}: {column} must be an integer (minor units)."))
            };
            let price = match money("price_minor") {
                Ok(Some(price)) => Some(price),
                Ok(None) => {
                    fail(
                        "missing_price",
                        "price_minor",
                        format!("Line {line}: price_minor is required."),
                    );
                    None
                }
                Err(detail) => {
                    fail("invalid_price", "price_minor", detail);
                    None
                }
            };
            let cost = money("cost_minor").unwrap_or_else(|detail| {
                fail("invalid_price", "cost_minor", detail);
                bad = true;
                None
            });
            let track_inventory = match value("track_inventory").to_ascii_lowercase().as_str() {
                "" => None,
                "true" | "yes" | "1" => Some(true),
                "false" | "no" | "0" => Some(false),
                _ => {
                    fail(
                        "invalid_value",
                        "track_inventory",
                        format!("Line {line}: track_inventory is true or false."),
                    );
                    bad = true;
                    None
                }
            };
            let Some(price_minor) = price else {
                product.bad = true;
                continue;
            };
            if bad {
                product.bad = true;
                continue;
            }
            let text = |column: &str| Some(value(column).to_owned()).filter(|v| !v.is_empty());
            let option_object: Map<String, Value> = option_values
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            product.variants.push((
                option_values,
                NewVariant {
                    name: text("variant_name"),
                    option_values: Value::Object(option_object),
                    sku: text("sku"),
                    barcode: text("barcode"),
                    price_minor,
                    cost_minor: cost,
                    track_inventory,
                    position: None,
                    key: text("variant_key"),
                },
            ));
        }

        for (index, (key, name, line)) in categories.into_iter().enumerate() {
            batch.categories.push(Row {
                index,
                line: Some(line),
                value: ImportCategory {
                    category: NewCategory {
                        name,
                        parent_id: None,
                        position: None,
                        key: Some(key),
                    },
                    parent_key: None,
                    name_only: true,
                },
            });
        }
        for product in products.into_iter().filter(|p| !p.bad) {
            let index = batch.products.len();
            batch.products.push(Row {
                index,
                line: Some(product.line),
                value: csv_product(product),
            });
        }
        Ok(batch)
    }
}

/// A product from its CSV records: options in the order their names and values first appear.
fn csv_product(product: CsvProduct) -> ImportProduct {
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    for (pairs, _) in &product.variants {
        for (name, value) in pairs {
            match options.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) => {
                    if !values.contains(value) {
                        values.push(value.clone());
                    }
                }
                None => options.push((name.clone(), vec![value.clone()])),
            }
        }
    }
    let column = |name: &str| product.columns.get(name).cloned();
    ImportProduct {
        product: NewProduct {
            name: column("product_name").unwrap_or_default(),
            description: column("description"),
            tax_category: column("tax_category"),
            options: (!options.is_empty()).then(|| validate::options_json(&options)),
            dietary_tags: column("dietary_tags")
                .map(|t| split_list(&t))
                .unwrap_or_default(),
            allergens: column("allergens")
                .map(|t| split_list(&t))
                .unwrap_or_default(),
            variants: product.variants.into_iter().map(|(_, v)| v).collect(),
            key: Some(product.key).filter(|k| !k.is_empty()),
            ..NewProduct::default()
        },
        category_key: column("category_key"),
        modifier_group_keys: column("modifier_group_keys")
            .map(|k| split_list(&k))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_follow_rfc_4180() {
        let records =
            parse_csv("\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",\n\n\"multi\nline\",2,3").unwrap();
        assert_eq!(
            records,
            vec![
                (1, vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]),
                (
                    2,
                    vec!["1".to_owned(), "x, \"y\"".to_owned(), String::new()]
                ),
                (
                    4,
                    vec!["multi\nline".to_owned(), "2".to_owned(), "3".to_owned()]
                ),
            ]
        );
        assert_eq!(parse_csv("a,\"b").unwrap_err().code(), "invalid_csv");
        assert_eq!(parse_csv("a,b\"c\n").unwrap_err().code(), "invalid_csv");
        assert_eq!(parse_csv("\"a\"b\n").unwrap_err().code(), "invalid_csv");
        assert!(parse_csv("").unwrap().is_empty());
    }

    #[test]
    fn csv_records_group_into_products_with_options() {
        let csv = "product_key,product_name,variant_key,price_minor,option_values,category_key,category_name\n\
                   latte,Latte,latte-s,300,Size=S,drinks,Drinks\n\
                   latte,,latte-l,400,Size=L,,\n\
                   tea,Tea,tea,200,,drinks,Drinks\n";
        let batch = Batch::from_csv(csv).unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(batch.categories.len(), 1);
        assert!(batch.categories[0].value.name_only);
        assert_eq!(batch.products.len(), 2);
        let latte = &batch.products[0].value;
        assert_eq!(latte.product.name, "Latte");
        assert_eq!(
            latte.product.options,
            Some(json!([{"name": "Size", "values": ["S", "L"]}]))
        );
        assert_eq!(latte.product.variants.len(), 2);
        assert_eq!(latte.category_key.as_deref(), Some("drinks"));
        let tea = &batch.products[1].value;
        assert_eq!(tea.product.options, None);
        assert_eq!(tea.product.variants[0].key.as_deref(), Some("tea"));
    }

    #[test]
    fn bad_csv_values_are_row_errors_and_drop_their_product() {
        let csv = "product_key,product_name,variant_key,price_minor,track_inventory\n\
                   a,A,a,12x,\n\
                   b,B,b,100,maybe\n\
                   c,C,c,100,yes\n";
        let batch = Batch::from_csv(csv).unwrap();
        let codes: Vec<(&str, usize)> = batch
            .errors
            .iter()
            .map(|e| (e.code.as_str(), e.index))
            .collect();
        assert_eq!(codes, vec![("invalid_price", 2), ("invalid_value", 3)]);
        assert_eq!(batch.products.len(), 1);
        assert_eq!(batch.products[0].value.product.track_inventory, None);
        assert_eq!(
            batch.products[0].value.product.variants[0].track_inventory,
            Some(true)
        );
        let unknown = Batch::from_csv("product_key,colour\n").unwrap_err();
        assert_eq!(unknown.code(), "invalid_csv");
        let missing = Batch::from_csv("product_key,product_name,variant_key\n").unwrap_err();
        assert_eq!(missing.code(), "invalid_csv");
    }

    #[test]
    fn rows_refuse_ids_and_need_keys() {
        let product = |v: Value| {
            serde_json::from_value::<ImportProduct>(v).map(|p| {
                check_product(&p)
                    .map(|_| ())
                    .map_err(|fault| (fault.0.code().to_owned(), fault.1))
            })
        };
        assert_eq!(
            product(json!({"name": "A", "price_minor": 1})).unwrap(),
            Err(("missing_key".to_owned(), Some("key".to_owned())))
        );
        assert_eq!(
            product(json!({"key": "a", "name": "A", "price_minor": 1,
                           "category_id": Uuid::nil()}))
            .unwrap(),
            Err(("unexpected_id".to_owned(), Some("category_id".to_owned())))
        );
        assert_eq!(
            product(json!({"key": "a", "name": "A",
                           "options": [{"name": "Size", "values": ["S", "M"]}],
                           "variants": [{"key": "a-s", "option_values": {"Size": "S"}, "price_minor": 1},
                                        {"option_values": {"Size": "M"}, "price_minor": 1}]}))
            .unwrap(),
            Err(("missing_key".to_owned(), Some("variants[1].key".to_owned())))
        );
        assert!(product(json!({"key": "a", "name": "A", "bogus": 1})).is_err());
        let plan = check_product(
            &serde_json::from_value(json!({"key": "a", "name": "A", "price_minor": 250})).unwrap(),
        )
        .unwrap();
        assert_eq!(plan.variants[0].key.as_deref(), Some("a"));
        assert_eq!(plan.variants[0].price_minor, 250);
    }

    #[test]
    fn group_changes_name_what_differs() {
        let state = GroupState {
            name: "Size".to_owned(),
            min_selections: 1,
            max_selections: Some(1),
            allow_repeats: false,
            modifiers: vec![NewModifier {
                id: Some(Uuid::nil()),
                name: "Small".to_owned(),
                price_delta_minor: 0,
            }],
            archived: false,
        };
        assert!(state.changes(&state.clone()).is_empty());
        let mut next = state.clone();
        next.max_selections = None;
        next.modifiers[0].price_delta_minor = 10;
        assert_eq!(
            state.changes(&next).changed(),
            ["max_selections", "modifiers"]
        );
        let mut bad = state;
        bad.min_selections = 2;
        assert_eq!(
            bad.validated().unwrap_err().code(),
            "invalid_selection_limits"
        );
    }
}
