//! `create-category` — `POST /v1/categories`: adds a category to the caller's tenant's
//! category tree (needs `catalog:write`).
//!
//! Body (`olympus::catalog::write::NewCategory`): `name` (required), `parent_id` (a live
//! category of the tenant; absent: a root), `position` (absent: after its live siblings),
//! `key` (external key, unique in the tenant). Answers 201 with the category,
//! `Location: /v1/categories/{id}` and `ETag: "1"`. Honours `Idempotency-Key`. Audit:
//! `catalog.category.created`.
//!
//! Errors: 422 `invalid_name`, `invalid_key` (with `field`); 422 `unknown_parent` (absent,
//! archived or another tenant's parent); 422 `category_too_deep` (deeper than 32 levels);
//! 409 `already_exists` (the `key` is taken, with `constraint`); 409 `category_limit` (the
//! tenant already has 5000 live categories, the most `GET /v1/categories` lists); 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::tree::{MAX_CATEGORIES, MAX_DEPTH, lock_live_parent, too_deep};
use olympus::catalog::write::{NewCategory, create_category};
use olympus::catalog::{CategoryView, WRITE, validate};
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("create-category")
        .idempotent_route(
            &Method::POST,
            "/v1/categories",
            create,
            Idempotency::Optional,
        )
        .build()
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(new): Json<NewCategory>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    // The fields are checked again on insert; checking them first answers a bad body before
    // any lock is taken.
    validate::name("name", &new.name)?;
    new.key.as_deref().map(validate::external_key).transpose()?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;

    let live: i64 = tx
        .query_one(
            "SELECT count(*) FROM catalog.categories WHERE archived_at IS NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    if live >= MAX_CATEGORIES {
        return Err(Error::conflict(
            "category_limit",
            format!("A tenant has at most {MAX_CATEGORIES} live categories."),
        )
        .with_extension("limit", MAX_CATEGORIES));
    }
    if let Some(parent) = new.parent_id {
        // Locks the parent live: an archive racing this insert waits, or we see it and refuse.
        if lock_live_parent(&tx, parent).await? >= MAX_DEPTH {
            return Err(too_deep());
        }
    }
    let view = create_category(&tx, tenant, new).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.category.created")
            .target("category", view.id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    tx.commit().await?;
    respond(view)
}

fn respond(view: CategoryView) -> Result<Response, Error> {
    let location =
        HeaderValue::from_str(&format!("/v1/categories/{}", view.id)).map_err(Error::internal)?;
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
