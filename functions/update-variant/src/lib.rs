//! `update-variant` — `PATCH /v1/variants/{id}`: changes one variant of a product (needs
//! `catalog:write`).
//!
//! Body: any of `name`, `option_values` (one listed value of each of the product's options),
//! `sku`, `barcode`, `cost_minor` (for these three `null` clears the value), `price_minor`,
//! `track_inventory`, `position` and `archived` (`true` archives the variant — it is no
//! longer sold and its SKU and barcode are free again —, `false` restores it). Other absent or
//! `null` fields are unchanged. Requires `If-Match` with the variant's version: missing is 428
//! `precondition_required`, stale is 412 `version_mismatch` with `current_version`. A change
//! bumps the variant's `version`, is audited (`catalog.variant.updated`, before/after of the
//! changed fields) and answers the variant with its new `ETag`; a request that changes nothing
//! answers the variant as it is (no new version, no event).
//!
//! Errors: 422 (with `field`) `invalid_name`, `invalid_option_values` (also when restoring a
//! variant that no longer fits the product's options), `duplicate_variant` (another live
//! variant has the same option values), `invalid_sku`, `invalid_barcode`, `invalid_price`;
//! 409 `already_exists` for a SKU or barcode another live variant uses; 404 for an unknown,
//! malformed or other tenant's id; 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.updated` (`variant_id` set, the changed field names, `version` the
//! variant's) and, when `price_minor` changes, `catalog.price.changed` (`location_id` absent:
//! the price everywhere without a location override).

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::{ensure_unique_option_values, nullable, stored_options};
use olympus::catalog::{VARIANT_COLUMNS, VariantView, WRITE, not_found, path_id, validate};
use olympus::db;
use olympus::events::catalog::{PriceChanged, ProductUpdated};
use olympus::events::{Event, Outbox};
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-variant")
        .route(&Method::PATCH, "/v1/variants/{id}", update_variant)
        .publishes(&[ProductUpdated::TYPE, PriceChanged::TYPE])
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    option_values: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    barcode: Option<Option<String>>,
    #[serde(default)]
    price_minor: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    cost_minor: Option<Option<i64>>,
    #[serde(default)]
    track_inventory: Option<bool>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    archived: Option<bool>,
}

/// The mutable part of a variant.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    name: String,
    option_values: Value,
    sku: Option<String>,
    barcode: Option<String>,
    price_minor: i64,
    cost_minor: Option<i64>,
    track_inventory: bool,
    position: i32,
    archived: bool,
}

impl Profile {
    fn of(view: &VariantView) -> Self {
        Self {
            name: view.name.clone(),
            option_values: view.option_values.clone(),
            sku: view.sku.clone(),
            barcode: view.barcode.clone(),
            price_minor: view.price_minor,
            cost_minor: view.cost_minor,
            track_inventory: view.track_inventory,
            position: view.position,
            archived: view.archived_at.is_some(),
        }
    }

    /// The changed fields, old and new, in the order the API lists them.
    fn diff(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff("name", json!(self.name), json!(next.name));
        changes.diff(
            "option_values",
            self.option_values.clone(),
            next.option_values.clone(),
        );
        changes.diff("sku", json!(self.sku), json!(next.sku));
        changes.diff("barcode", json!(self.barcode), json!(next.barcode));
        changes.diff(
            "price_minor",
            json!(self.price_minor),
            json!(next.price_minor),
        );
        changes.diff("cost_minor", json!(self.cost_minor), json!(next.cost_minor));
        changes.diff(
            "track_inventory",
            json!(self.track_inventory),
            json!(next.track_inventory),
        );
        changes.diff("position", json!(self.position), json!(next.position));
        changes.diff("archived", json!(self.archived), json!(next.archived));
        changes
    }
}

impl VariantPatch {
    /// Validates the given fields against the product's `options` (pure) and applies them.
    fn apply(self, current: &Profile, options: &[(String, Vec<String>)]) -> Result<Profile, Error> {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = validate::name("name", &name)?;
        }
        if let Some(values) = self.option_values {
            next.option_values = json!(validate::option_values(options, &values)?);
        }
        if let Some(sku) = self.sku {
            next.sku = sku.as_deref().map(validate::sku).transpose()?;
        }
        if let Some(barcode) = self.barcode {
            next.barcode = barcode.as_deref().map(validate::barcode).transpose()?;
        }
        if let Some(price) = self.price_minor {
            next.price_minor = validate::money("price_minor", price)?;
        }
        if let Some(cost) = self.cost_minor {
            next.cost_minor = cost
                .map(|cost| validate::money("cost_minor", cost))
                .transpose()?;
        }
        if let Some(track) = self.track_inventory {
            next.track_inventory = track;
        }
        if let Some(position) = self.position {
            next.position = position;
        }
        if let Some(archived) = self.archived {
            next.archived = archived;
        }
        Ok(next)
    }
}

async fn update_variant(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<VariantPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "variant")?;
    let expected = expected_version(&headers, "variant")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // The product first, as create-variant and update-product lock it: the duplicate check
    // below and a concurrent change of the product's options or variants cannot interleave.
    let product = tx
        .query_opt(
            "SELECT p.id, p.options FROM catalog.products p
             WHERE p.id = (SELECT v.product_id FROM catalog.variants v WHERE v.id = $1)
             FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("variant"))?;
    let product_id: Uuid = product.try_get("id")?;
    let options = stored_options(&product.try_get("options")?)?;
    let row = tx
        .query_one(
            &format!("SELECT {VARIANT_COLUMNS} FROM catalog.variants WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await?;
    let before = VariantView::from_row(&row)?;
    let current = Profile::of(&before);
    let next = patch.apply(&current, &options)?;
    if before.version != expected {
        return Err(version_mismatch("variant", expected, before.version));
    }
    let changes = current.diff(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    let restored = current.archived && !next.archived;
    if !next.archived && (restored || next.option_values != current.option_values) {
        let values = validate::option_values(&options, &next.option_values)?;
        ensure_unique_option_values(&tx, product_id, &values, Some(id)).await?;
    }

    let row = tx
        .query_one(
            &format!(
                "UPDATE catalog.variants
                 SET name = $2, option_values = $3, sku = $4, barcode = $5, price_minor = $6,
                     cost_minor = $7, track_inventory = $8, position = $9,
                     archived_at = CASE WHEN $10 THEN coalesce(archived_at, now()) END,
                     version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {VARIANT_COLUMNS}"
            ),
            &[
                &id,
                &next.name,
                &next.option_values,
                &next.sku,
                &next.barcode,
                &next.price_minor,
                &next.cost_minor,
                &next.track_inventory,
                &next.position,
                &next.archived,
            ],
        )
        .await?;
    let after = VariantView::from_row(&row)?;

    let changed: Vec<String> = changes
        .changed()
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.variant.updated")
            .target("variant", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &ProductUpdated {
                product_id,
                variant_id: Some(id),
                changed,
                version: after.version,
            },
        )
        .await?;
    if after.price_minor != before.price_minor {
        outbox
            .record(
                &tx,
                Some(tenant),
                &PriceChanged {
                    product_id,
                    variant_id: id,
                    location_id: None,
                    old_price_minor: Some(before.price_minor),
                    new_price_minor: Some(after.price_minor),
                },
            )
            .await?;
    }
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(after)
}

fn respond(view: VariantView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn options() -> Vec<(String, Vec<String>)> {
        vec![("Size".to_owned(), vec!["S".to_owned(), "L".to_owned()])]
    }

    fn profile() -> Profile {
        Profile {
            name: "S".to_owned(),
            option_values: json!({"Size": "S"}),
            sku: Some("LAT-S".to_owned()),
            barcode: None,
            price_minor: 350,
            cost_minor: Some(90),
            track_inventory: true,
            position: 0,
            archived: false,
        }
    }

    fn patch(body: Value) -> VariantPatch {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn null_clears_absent_keeps_and_diff_names_changes() {
        let current = profile();
        let next = patch(json!({"sku": null, "price_minor": 400, "name": null}))
            .apply(&current, &options())
            .unwrap();
        assert_eq!(next.sku, None);
        assert_eq!(next.cost_minor, Some(90));
        assert_eq!(current.diff(&next).changed(), ["sku", "price_minor"]);
        let same = patch(json!({"option_values": {"Size": " S "}, "price_minor": 350}))
            .apply(&current, &options())
            .unwrap();
        assert!(current.diff(&same).is_empty());
    }

    #[test]
    fn invalid_fields_are_refused_with_their_codes() {
        let code = |body: Value| {
            patch(body)
                .apply(&profile(), &options())
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(
            code(json!({"option_values": {"Size": "XL"}})),
            "invalid_option_values"
        );
        assert_eq!(code(json!({"barcode": "4006381333932"})), "invalid_barcode");
        assert_eq!(code(json!({"price_minor": -1})), "invalid_price");
        assert_eq!(code(json!({"cost_minor": -5})), "invalid_price");
        assert_eq!(code(json!({"sku": " "})), "invalid_sku");
        assert!(serde_json::from_value::<VariantPatch>(json!({"product_id": "x"})).is_err());
    }
}
