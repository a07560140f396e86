//! `archive-product` — `DELETE /v1/products/{id}`: archives a product (needs
//! `catalog:write`). Products are never deleted: orders reference them.
//!
//! Sets `archived_at`, bumps `version` and answers 200 with the product as
//! `GET /v1/products/{id}` shows it (variants untouched, so `PATCH {"archived": false}`
//! restores it whole) and its new `ETag`. Archiving an archived product answers it unchanged
//! (no new version, no event). `If-Match` is optional; when sent it must name the current
//! version (stale: 412 `version_mismatch` with `current_version`; unreadable: 400
//! `invalid_if_match`). An unknown, malformed or other tenant's id is 404 `not_found`.
//! Audit: `catalog.product.archived` (before/after: `archived_at`, `version`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits: `catalog.product.archived`.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::optional_expected_version;
use olympus::catalog::{ProductView, WRITE, load_product, not_found, path_id};
use olympus::db;
use olympus::events::catalog::ProductArchived;
use olympus::events::{Event, Outbox};
use olympus::http::versioning::{etag, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;

pub fn function() -> Function {
    Function::http("archive-product")
        .route(&Method::DELETE, "/v1/products/{id}", archive)
        .publishes(&[ProductArchived::TYPE])
        .build()
}

async fn archive(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "product")?;
    let expected = optional_expected_version(&headers, "product")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let row = tx
        .query_opt(
            "SELECT version, archived_at FROM catalog.products WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("product"))?;
    let version: i32 = row.try_get(0)?;
    let archived_at: Option<DateTime<Utc>> = row.try_get(1)?;
    if let Some(expected) = expected.filter(|e| *e != version) {
        return Err(version_mismatch("product", expected, version));
    }
    if archived_at.is_some() {
        let view = load_product(&tx, id).await?;
        tx.commit().await?;
        return respond(view);
    }

    tx.execute(
        "UPDATE catalog.products
         SET archived_at = now(), version = version + 1, updated_at = now()
         WHERE id = $1",
        &[&id],
    )
    .await?;
    let view = load_product(&tx, id).await?;
    let mut changes = Changes::new();
    changes.record("archived_at", json!(null), json!(view.archived_at));
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.product.archived")
            .target("product", id)
            .versioned_change(changes, version, view.version),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &ProductArchived {
                product_id: id,
                version: view.version,
            },
        )
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(view)
}

fn respond(view: ProductView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
