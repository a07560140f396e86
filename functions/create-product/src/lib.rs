//! `create-product` — `POST /v1/products`: adds a product with its variants to the caller's
//! catalog (needs `catalog:write`).
//!
//! Body (`olympus::catalog::write::NewProduct`): `name` (required), `description`,
//! `category_id` (a live category), `tax_category` (default `standard`), `options`
//! (`[{"name": "Size", "values": ["S", "M"]}]`, at most 3), `dietary_tags`, `allergens`,
//! `image_urls`, `modifier_group_ids` (live groups, in order), `key` (external key), and
//! either `variants` (each `name`, `option_values`, `sku`, `barcode`, `price_minor`,
//! `cost_minor`, `track_inventory`, `position`, `key`) or — for a product without options —
//! the default variant's `price_minor`, `sku`, `barcode`, `cost_minor`, `track_inventory`.
//! Answers 201 with the product as `GET /v1/products/{id}` shows it, `ETag: "1"` and
//! `Location: /v1/products/{id}`. Honours `Idempotency-Key`. Audit: `catalog.product.created`.
//!
//! Errors (422 with `field`): `invalid_name`, `invalid_text`, `invalid_tax_category`,
//! `invalid_options`, `invalid_option_values`, `invalid_tags`, `invalid_image_url`,
//! `invalid_sku`, `invalid_barcode`, `invalid_price`, `invalid_key`, `missing_price` (no
//! variants and no `price_minor`), `missing_variants` (options without variants),
//! `missing_options` (several variants without options), `ambiguous_variants` (both
//! `variants` and product-level price fields), `too_many_variants`, `duplicate_variant`,
//! `unknown_category` (absent, archived or another tenant's), `unknown_modifier_group`;
//! 409 `already_exists` for a SKU, barcode or key in use; 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.created`.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::write::{NewProduct, create_product};
use olympus::catalog::{ProductView, WRITE};
use olympus::db;
use olympus::events::catalog::ProductCreated;
use olympus::events::{Event, Outbox};
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("create-product")
        .idempotent_route(&Method::POST, "/v1/products", create, Idempotency::Optional)
        .publishes(&[ProductCreated::TYPE])
        .build()
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(new): Json<NewProduct>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    // The pure checks first: a bad body never takes a connection.
    new.validate()?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let view = create_product(&tx, tenant, &new).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.product.created")
            .target("product", view.id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(&tx, Some(tenant), &created_event(&view))
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;

    let location =
        HeaderValue::from_str(&format!("/v1/products/{}", view.id)).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::ETAG, etag(view.version)),
        ],
        Json(view),
    )
        .into_response())
}

fn created_event(view: &ProductView) -> ProductCreated {
    ProductCreated {
        product_id: view.id,
        name: view.name.clone(),
        variant_ids: view.variants.iter().map(|v| v.id).collect(),
        version: view.version,
    }
}
