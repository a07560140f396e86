//! `import-catalog` — `POST /v1/catalog/import`: creates or updates categories, modifier groups
//! and products (with variants) by the tenant's own keys, all or nothing (needs
//! `catalog:write`).
//!
//! JSON body (`Content-Type: application/json`): `{"categories": [...], "modifier_groups":
//! [...], "products": [...]}`, every row with a `key` (stored as `external_key`). A category
//! row is the body of `POST /v1/categories` with `parent_key` (absent or null: a root) instead
//! of `parent_id`; a modifier group row is the body of `POST /v1/modifier-groups`; a product
//! row is the body of `POST /v1/products` with `category_key` and `modifier_group_keys`
//! instead of ids, every variant with its own `key` (a product given by its product-level
//! `price_minor` has one variant keyed like the product). A reference is a key of this batch
//! or an existing key of the tenant (live). A row is the whole object: a product's live
//! variants not listed are archived, a group's modifiers are matched by name (others
//! archived), an archived object whose key is imported is restored.
//!
//! CSV body (`Content-Type: text/csv`, UTF-8, RFC 4180, a header record then one record per
//! variant): columns `product_key`, `product_name`, `variant_key`, `price_minor` (required),
//! `category_key`, `category_name`, `description`, `tax_category`, `modifier_group_keys`
//! (`;`-separated), `option_values` (`Size=Large;Milk=Oat`; the product's options are the
//! names and values in the order they first appear), `variant_name`, `sku`, `barcode`,
//! `cost_minor`, `track_inventory` (`true`/`false`), `dietary_tags`, `allergens`
//! (`;`-separated). Records with one `product_key` make one product; its product-level columns
//! may repeat identically or stay empty after its first record. A `category_name` creates (as
//! a root) or renames the category `category_key`; modifier groups must already exist.
//!
//! Every row is checked first; any failure answers 422 `import_invalid` with `errors`:
//! `[{"section", "index", "key", "code", "detail", "field"?, "line"?}]` (sections
//! `categories`, `modifier_groups`, `products`, and `csv` for a CSV record whose values do not
//! parse, with `index` its line) and writes nothing. Row codes are those of the single
//! endpoints (`invalid_name`, `invalid_price`, `invalid_options`, `duplicate_variant`,
//! `invalid_selection_limits`, ...) plus `invalid_row` (a row that does not parse),
//! `missing_key`, `invalid_key`, `duplicate_key`, `duplicate_sku`, `duplicate_barcode`,
//! `unexpected_id`, `unknown_parent`, `unknown_category`, `unknown_modifier_group`,
//! `duplicate_modifier_group`, `key_in_use` (a variant key of another product),
//! `category_cycle`, `category_too_deep`, `too_many_categories`, `inconsistent_product`,
//! `inconsistent_category`, `invalid_value`; a write that fails on a constraint (a SKU in use
//! elsewhere: `already_exists`) is reported the same way for its row, and rolls everything
//! back. Otherwise, in one transaction: a new key is created, an existing key whose fields
//! differ is updated (`version + 1`), an identical one is left untouched. Answers 200
//! `{"created", "updated", "unchanged", "items": [{"section", "key", "id", "outcome"}]}`.
//! More than 5000 rows (categories + groups + variants) is 422 `import_too_large`; a body
//! that is neither is 415 `unsupported_media_type`, malformed JSON 400 `malformed_json`, a
//! body of the wrong shape 422 `invalid_body`, a CSV that is not a table of known columns 422
//! `invalid_csv` (with `line`), a body over 8 MiB ([`IMPORT_BODY_LIMIT`], this function's own
//! limit instead of `MAX_BODY_BYTES`) 413 `payload_too_large`.
//! Honours `Idempotency-Key`. Audit: `catalog.import.completed` (counts and the keys written).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.created` (created products), `catalog.product.updated` (changed
//! products), `catalog.price.changed` (changed variant prices).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog;
use olympus::catalog::import::{self, Batch, ImportBody, ImportReport, Outcome, too_large};
use olympus::db;
use olympus::events::Event;
use olympus::events::Outbox;
use olympus::events::catalog::{PriceChanged, ProductCreated, ProductUpdated};
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde_json::json;

/// Largest import body (JSON or CSV): 8 MiB, a quarter of Cloud Run's request limit.
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn function() -> Function {
    Function::http("import-catalog")
        .idempotent_route(
            &Method::POST,
            "/v1/catalog/import",
            import_catalog,
            Idempotency::Optional,
        )
        // 5000 product rows of JSON are about 1.5 MB: more than MAX_BODY_BYTES' default.
        .body_limit(IMPORT_BODY_LIMIT)
        .publishes(&[
            ProductCreated::TYPE,
            ProductUpdated::TYPE,
            PriceChanged::TYPE,
        ])
        .build()
}

enum Format {
    Json,
    Csv,
}

fn format_of(headers: &HeaderMap) -> Result<Format, Error> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(Format::Json)
    } else if essence == "text/csv" {
        Ok(Format::Csv)
    } else {
        Err(
            Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                .with_detail("The body is JSON (application/json) or CSV (text/csv)."),
        )
    }
}

fn body_rejection(rejection: &BytesRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .with_detail("The request body is larger than this endpoint accepts.")
    } else {
        Error::bad_request("invalid_body", rejection.body_text())
    }
}

/// The batch a body holds (row errors inside it are reported with the others later).
fn parse(format: &Format, body: &[u8]) -> Result<Batch, Error> {
    match format {
        Format::Json => {
            let body: ImportBody = serde_json::from_slice(body).map_err(|e| {
                if e.is_data() {
                    Error::unprocessable("invalid_body", e.to_string())
                } else {
                    Error::bad_request("malformed_json", format!("The body is not valid JSON: {e}"))
                }
            })?;
            let rows = body.row_count();
            if rows > import::MAX_ROWS {
                return Err(too_large(rows));
            }
            Ok(Batch::from_json(body))
        }
        Format::Csv => {
            let text = std::str::from_utf8(body)
                .map_err(|_| Error::unprocessable("invalid_csv", "The CSV body must be UTF-8."))?;
            Batch::from_csv(text)
        }
    }
}

async fn import_catalog(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    principal.require(catalog::WRITE)?;
    let body = body.map_err(|r| body_rejection(&r))?;
    let batch = parse(&format_of(&headers)?, &body)?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let mut outbox = Outbox::default();
    // On failure the transaction is dropped unfinished: it rolls back, nothing is written.
    let report = import::run(&tx, tenant, batch, &mut outbox)
        .await
        .map_err(import::Failure::into_error)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.import.completed").details(summary(&report)),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok(Json(report).into_response())
}

/// The audit details: the counts and what was written (unchanged rows are left out).
fn summary(report: &ImportReport) -> serde_json::Value {
    let written: Vec<_> = report
        .items
        .iter()
        .filter(|i| i.outcome != Outcome::Unchanged)
        .collect();
    json!({
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "written": written,
    })
}
