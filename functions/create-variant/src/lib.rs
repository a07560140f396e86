//! `create-variant` — `POST /v1/products/{id}/variants`: adds a variant to a product with
//! options (needs `catalog:write`).
//!
//! Body (`olympus::catalog::write::NewVariant`): `option_values` (one listed value of each of
//! the product's options), `price_minor` (required), `name` (default: the option values
//! joined by " / "), `sku`, `barcode`, `cost_minor`, `track_inventory` (default true),
//! `position` (default: after the others), `key`. Answers 201 with the variant, its
//! `ETag: "1"` (for `PATCH /v1/variants/{id}`) and `Location: /v1/products/{product_id}`.
//! Honours `Idempotency-Key`. Audit: `catalog.variant.created`. The product's own version is
//! unchanged (variants carry their own).
//!
//! Errors: 422 (with `field`) `invalid_option_values`, `invalid_name`, `invalid_sku`,
//! `invalid_barcode`, `invalid_price`, `invalid_key`, `duplicate_variant` (a live variant has
//! the same option values), `missing_options` (the product has no options: its default
//! variant is all it sells), `too_many_variants`; 409 `product_archived`, 409
//! `already_exists` for a SKU, barcode or key in use; 404 for an unknown, malformed or other
//! tenant's product; 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.updated` (`variant_id` set, `changed: ["variants"]`, `version` the
//! variant's).

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::patch::{ensure_unique_option_values, stored_options};
use olympus::catalog::write::{MAX_VARIANTS, NewVariant, insert_variant};
use olympus::catalog::{WRITE, not_found, path_id};
use olympus::db;
use olympus::events::catalog::ProductUpdated;
use olympus::events::{Event, Outbox};
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json, Path};
use olympus::{AppState, Error, Function};
use serde_json::Value;

pub use olympus::catalog::VariantView;

pub fn function() -> Function {
    Function::http("create-variant")
        .idempotent_route(
            &Method::POST,
            "/v1/products/{id}/variants",
            create_variant,
            Idempotency::Optional,
        )
        .publishes(&[ProductUpdated::TYPE])
        .build()
}

async fn create_variant(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(product_id): Path<String>,
    Json(new): Json<NewVariant>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let product_id = path_id(&product_id, "product")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // Locking the product serialises variant additions, so the duplicate check holds.
    let row = tx
        .query_opt(
            "SELECT p.name, p.options, p.archived_at,
                    (SELECT count(*) FROM catalog.variants v
                     WHERE v.product_id = p.id AND v.archived_at IS NULL) AS live,
                    (SELECT coalesce(max(v.position) + 1, 0) FROM catalog.variants v
                     WHERE v.product_id = p.id) AS next_position
             FROM catalog.products p WHERE p.id = $1 FOR UPDATE",
            &[&product_id],
        )
        .await?
        .ok_or_else(|| not_found("product"))?;
    let name: String = row.try_get("name")?;
    let options: Value = row.try_get("options")?;
    let archived_at: Option<DateTime<Utc>> = row.try_get("archived_at")?;
    let live: i64 = row.try_get("live")?;
    let next_position: i32 = row.try_get("next_position")?;
    if archived_at.is_some() {
        return Err(Error::conflict(
            "product_archived",
            format!("Product {product_id} is archived; restore it before adding variants."),
        ));
    }
    let options = stored_options(&options)?;
    if options.is_empty() {
        return Err(Error::unprocessable(
            "missing_options",
            "A product without options sells its default variant only; give it options first.",
        )
        .with_extension("field", "option_values"));
    }
    let fields = new.validate(&options, &name)?;
    if usize::try_from(live).unwrap_or(usize::MAX) >= MAX_VARIANTS {
        return Err(Error::unprocessable(
            "too_many_variants",
            format!("A product has at most {MAX_VARIANTS} variants."),
        )
        .with_extension("field", "variants"));
    }
    ensure_unique_option_values(&tx, product_id, &fields.option_values, None).await?;
    let position = fields.position.unwrap_or(next_position);
    let variant = insert_variant(&tx, tenant, product_id, &fields, position).await?;

    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.variant.created")
            .target("variant", variant.id)
            .change(
                None,
                Some(serde_json::to_value(&variant).map_err(Error::internal)?),
            ),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &ProductUpdated {
                product_id,
                variant_id: Some(variant.id),
                changed: vec!["variants".to_owned()],
                version: variant.version,
            },
        )
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;

    let location =
        HeaderValue::from_str(&format!("/v1/products/{product_id}")).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::ETAG, etag(variant.version)),
        ],
        Json(variant),
    )
        .into_response())
}
