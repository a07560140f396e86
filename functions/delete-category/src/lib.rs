//! `delete-category` — `DELETE /v1/categories/{id}`: archives a category (needs
//! `catalog:write`). Catalog rows are never removed: past orders still name them.
//!
//! Only an empty category can go: one that still has live subcategories or live products is
//! 409 `category_not_empty` with the counts as `live_children` and `live_products`. `If-Match`
//! is optional; when sent it must name the current version (412 `version_mismatch`, 400
//! `invalid_if_match`). Answers 204; archiving an archived category is 204 too and changes
//! nothing, whatever `If-Match` says (a retry of a delete that went through must not fail on
//! the version the delete itself bumped). A change bumps `version` and is audited
//! (`catalog.category.archived`).
//!
//! Errors: 404 (unknown id, another tenant's included); 409 `category_not_empty`; 412
//! `version_mismatch`; 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::optional_expected_version;
use olympus::catalog::tree::lock_category;
use olympus::catalog::{WRITE, path_id};
use olympus::db;
use olympus::http::versioning::version_mismatch;
use olympus::http::{ClientInfo, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;

pub fn function() -> Function {
    Function::http("delete-category")
        .route(&Method::DELETE, "/v1/categories/{id}", delete)
        .build()
}

async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "category")?;
    let expected = optional_expected_version(&headers, "category")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // The row lock also waits for any child or product being inserted under it (their foreign
    // key check holds a key-share lock on this row), so the counts below see them.
    let before = lock_category(&tx, id).await?;
    if before.archived_at.is_some() {
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    if let Some(expected) = expected.filter(|v| *v != before.version) {
        return Err(version_mismatch("category", expected, before.version));
    }
    let counts = tx
        .query_one(
            "SELECT (SELECT count(*) FROM catalog.categories
                     WHERE parent_id = $1 AND archived_at IS NULL),
                    (SELECT count(*) FROM catalog.products
                     WHERE category_id = $1 AND archived_at IS NULL)",
            &[&id],
        )
        .await?;
    let (children, products): (i64, i64) = (counts.try_get(0)?, counts.try_get(1)?);
    if children > 0 || products > 0 {
        return Err(Error::conflict(
            "category_not_empty",
            format!(
                "The category still holds {children} live subcategories and {products} live \
                 products; move or archive them first."
            ),
        )
        .with_extension("live_children", children)
        .with_extension("live_products", products));
    }
    let version: i32 = tx
        .query_one(
            "UPDATE catalog.categories
             SET archived_at = now(), version = version + 1, updated_at = now()
             WHERE id = $1
             RETURNING version",
            &[&id],
        )
        .await?
        .try_get(0)?;
    let mut changes = Changes::new();
    changes.record("archived", json!(false), json!(true));
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.category.archived")
            .target("category", id)
            .versioned_change(changes, before.version, version),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
