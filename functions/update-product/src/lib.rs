//! `update-product` — `PATCH /v1/products/{id}`: changes a product (needs `catalog:write`).
//!
//! Body: any of `name`, `description`, `category_id` (`null` takes the product out of its
//! category), `tax_category`, `options` (replaced whole; every live variant must still name
//! exactly one listed value of each option), `dietary_tags`, `allergens`, `image_urls`,
//! `modifier_group_ids` (replaced, in order; duplicates are dropped) and `archived` (`false`
//! restores an archived product, `true` archives it like `DELETE`). Other absent or `null`
//! fields are unchanged. Variants change through `/v1/products/{id}/variants` and
//! `/v1/variants/{id}`. Requires `If-Match: "<version>"`: missing is 428
//! `precondition_required`, stale is 412 `version_mismatch` with `current_version`. A change
//! bumps `version`, is audited (`catalog.product.updated`, before/after of the changed fields)
//! and answers the product as `GET` shows it with its new `ETag`; a request that changes
//! nothing answers the product as it is (no new version, no event).
//!
//! Errors (422 with `field`): the field codes of `create-product` (`invalid_name`,
//! `invalid_text`, `invalid_tax_category`, `invalid_options`, `invalid_tags`,
//! `invalid_image_url`), `unknown_category` (absent, archived or another tenant's),
//! `options_in_use` (a live variant does not fit the new options; `variant_id` names it),
//! `unknown_modifier_group`; 404 for an unknown, malformed or other tenant's id; 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.updated` (the changed field names), and `catalog.product.archived`
//! when `archived: true` archives it.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::{nullable, stored_options};
use olympus::catalog::validate;
use olympus::catalog::write::ensure_category;
use olympus::catalog::{
    ProductView, WRITE, load_product, not_found, path_id, set_product_modifier_groups,
};
use olympus::db;
use olympus::events::catalog::{ProductArchived, ProductUpdated};
use olympus::events::{Event, Outbox};
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-product")
        .route(&Method::PATCH, "/v1/products/{id}", update_product)
        .publishes(&[ProductUpdated::TYPE, ProductArchived::TYPE])
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    category_id: Option<Option<Uuid>>,
    #[serde(default)]
    tax_category: Option<String>,
    #[serde(default)]
    options: Option<Value>,
    #[serde(default)]
    dietary_tags: Option<Vec<String>>,
    #[serde(default)]
    allergens: Option<Vec<String>>,
    #[serde(default)]
    image_urls: Option<Vec<String>>,
    #[serde(default)]
    modifier_group_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    archived: Option<bool>,
}

/// The mutable part of a product.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    name: String,
    description: String,
    category_id: Option<Uuid>,
    tax_category: String,
    options: Vec<(String, Vec<String>)>,
    dietary_tags: Vec<String>,
    allergens: Vec<String>,
    image_urls: Vec<String>,
    modifier_group_ids: Vec<Uuid>,
    archived: bool,
}

impl Profile {
    fn of(view: &ProductView) -> Result<Self, Error> {
        Ok(Self {
            name: view.name.clone(),
            description: view.description.clone(),
            category_id: view.category_id,
            tax_category: view.tax_category.clone(),
            options: stored_options(&view.options)?,
            dietary_tags: view.dietary_tags.clone(),
            allergens: view.allergens.clone(),
            image_urls: view.image_urls.clone(),
            modifier_group_ids: view.modifier_group_ids.clone(),
            archived: view.archived_at.is_some(),
        })
    }

    /// The changed fields, old and new, in the order the API lists them.
    fn diff(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff("name", json!(self.name), json!(next.name));
        changes.diff(
            "description",
            json!(self.description),
            json!(next.description),
        );
        changes.diff(
            "category_id",
            json!(self.category_id),
            json!(next.category_id),
        );
        changes.diff(
            "tax_category",
            json!(self.tax_category),
            json!(next.tax_category),
        );
        changes.diff(
            "options",
            validate::options_json(&self.options),
            validate::options_json(&next.options),
        );
        changes.diff(
            "dietary_tags",
            json!(self.dietary_tags),
            json!(next.dietary_tags),
        );
        changes.diff("allergens", json!(self.allergens), json!(next.allergens));
        changes.diff("image_urls", json!(self.image_urls), json!(next.image_urls));
        changes.diff(
            "modifier_group_ids",
            json!(self.modifier_group_ids),
            json!(next.modifier_group_ids),
        );
        changes.diff("archived", json!(self.archived), json!(next.archived));
        changes
    }
}

impl ProductPatch {
    /// Validates the given fields (pure) and applies them to `current`.
    fn apply(self, current: &Profile) -> Result<Profile, Error> {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = validate::name("name", &name)?;
        }
        if let Some(description) = self.description {
            next.description = validate::text("description", &description, 4000)?;
        }
        if let Some(category_id) = self.category_id {
            next.category_id = category_id;
        }
        if let Some(tax_category) = self.tax_category {
            next.tax_category = validate::tax_category(&tax_category)?;
        }
        if let Some(options) = self.options {
            next.options = validate::options(&options)?;
        }
        if let Some(tags) = self.dietary_tags {
            next.dietary_tags = validate::tags("dietary_tags", &tags)?;
        }
        if let Some(allergens) = self.allergens {
            next.allergens = validate::tags("allergens", &allergens)?;
        }
        if let Some(urls) = self.image_urls {
            next.image_urls = validate::image_urls(&urls)?;
        }
        if let Some(ids) = self.modifier_group_ids {
            let mut unique: Vec<Uuid> = Vec::with_capacity(ids.len());
            for id in ids {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            next.modifier_group_ids = unique;
        }
        if let Some(archived) = self.archived {
            next.archived = archived;
        }
        Ok(next)
    }
}

/// 422 `options_in_use` unless every live variant names one listed value of each option.
fn ensure_variants_fit(view: &ProductView, options: &[(String, Vec<String>)]) -> Result<(), Error> {
    for variant in view.variants.iter().filter(|v| v.archived_at.is_none()) {
        if let Err(error) = validate::option_values(options, &variant.option_values) {
            return Err(Error::unprocessable(
                "options_in_use",
                format!(
                    "Live variant {} ({}) does not fit the new options: {}",
                    variant.id,
                    variant.name,
                    error.detail().unwrap_or("its option values are not listed")
                ),
            )
            .with_extension("field", "options")
            .with_extension("variant_id", variant.id.to_string()));
        }
    }
    Ok(())
}

async fn update_product(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<ProductPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "product")?;
    let expected = expected_version(&headers, "product")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // The lock serialises changes of the product and of its variants (which lock it too).
    tx.query_opt(
        "SELECT 1 FROM catalog.products WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    .ok_or_else(|| not_found("product"))?;
    let before = load_product(&tx, id).await?;
    let current = Profile::of(&before)?;
    let next = patch.apply(&current)?;
    if before.version != expected {
        return Err(version_mismatch("product", expected, before.version));
    }
    let changes = current.diff(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    if next.category_id != current.category_id
        && let Some(category) = next.category_id
    {
        ensure_category(&tx, category, "unknown_category", "category_id").await?;
    }
    if next.options != current.options {
        ensure_variants_fit(&before, &next.options)?;
    }

    tx.execute(
        "UPDATE catalog.products
         SET name = $2, description = $3, category_id = $4, tax_category = $5, options = $6,
             dietary_tags = $7, allergens = $8, image_urls = $9,
             archived_at = CASE WHEN $10 THEN coalesce(archived_at, now()) END,
             version = version + 1, updated_at = now()
         WHERE id = $1",
        &[
            &id,
            &next.name,
            &next.description,
            &next.category_id,
            &next.tax_category,
            &validate::options_json(&next.options),
            &next.dietary_tags,
            &next.allergens,
            &next.image_urls,
            &next.archived,
        ],
    )
    .await?;
    if next.modifier_group_ids != current.modifier_group_ids {
        set_product_modifier_groups(&tx, tenant, id, &next.modifier_group_ids).await?;
    }
    let after = load_product(&tx, id).await?;

    let changed: Vec<String> = changes
        .changed()
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.product.updated")
            .target("product", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &ProductUpdated {
                product_id: id,
                variant_id: None,
                changed,
                version: after.version,
            },
        )
        .await?;
    if next.archived && !current.archived {
        outbox
            .record(
                &tx,
                Some(tenant),
                &ProductArchived {
                    product_id: id,
                    version: after.version,
                },
            )
            .await?;
    }
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(after)
}

fn respond(view: ProductView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "Latte".to_owned(),
            description: String::new(),
            category_id: None,
            tax_category: "standard".to_owned(),
            options: vec![("Size".to_owned(), vec!["S".to_owned(), "L".to_owned()])],
            dietary_tags: vec!["vegan".to_owned()],
            allergens: Vec::new(),
            image_urls: Vec::new(),
            modifier_group_ids: Vec::new(),
            archived: false,
        }
    }

    fn patch(body: Value) -> ProductPatch {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn patches_apply_normalised_fields_and_diff_names_them() {
        let current = profile();
        let group = Uuid::now_v7();
        let next = patch(json!({
            "name": " Oat Latte ", "dietary_tags": ["Vegan"], "category_id": null,
            "options": [{"name": "Size", "values": ["S", "L", "XL"]}],
            "modifier_group_ids": [group, group], "archived": false
        }))
        .apply(&current)
        .unwrap();
        assert_eq!(next.name, "Oat Latte");
        assert_eq!(next.modifier_group_ids, vec![group]);
        let changes = current.diff(&next);
        assert_eq!(changes.changed(), ["name", "options", "modifier_group_ids"]);
        assert!(
            patch(json!({}))
                .apply(&current)
                .unwrap()
                .diff(&current)
                .is_empty()
        );
    }

    #[test]
    fn category_null_clears_and_absent_keeps() {
        let mut current = profile();
        current.category_id = Some(Uuid::now_v7());
        let kept = patch(json!({"name": "Latte"})).apply(&current).unwrap();
        assert_eq!(kept.category_id, current.category_id);
        let cleared = patch(json!({"category_id": null})).apply(&current).unwrap();
        assert_eq!(cleared.category_id, None);
        assert_eq!(current.diff(&cleared).changed(), ["category_id"]);
    }

    #[test]
    fn invalid_fields_are_refused_with_their_codes() {
        let code = |body: Value| patch(body).apply(&profile()).unwrap_err().code().to_owned();
        assert_eq!(code(json!({"name": ""})), "invalid_name");
        assert_eq!(
            code(json!({"tax_category": "Food!"})),
            "invalid_tax_category"
        );
        assert_eq!(code(json!({"options": {"Size": []}})), "invalid_options");
        assert_eq!(code(json!({"allergens": ["nuts!"]})), "invalid_tags");
        assert_eq!(
            code(json!({"image_urls": ["ftp://x"]})),
            "invalid_image_url"
        );
        assert!(serde_json::from_value::<ProductPatch>(json!({"variants": []})).is_err());
    }
}
