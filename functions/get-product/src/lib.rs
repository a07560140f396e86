//! `get-product` — `GET /v1/products/{id}`: one product of the caller's tenant with its
//! variants (needs `catalog:read`).
//!
//! Answers the product (`id`, `category_id`, `name`, `description`, `tax_category`, `options`,
//! `dietary_tags`, `allergens`, `image_urls`, `modifier_group_ids`, `variants` in position
//! order — archived ones included with their `archived_at` —, `external_key`, `version`,
//! `change_seq`, `archived_at`, `created_at`, `updated_at`) with `ETag: "<version>"` for
//! `PATCH /v1/products/{id}`'s `If-Match`. An archived product is still answered (orders
//! reference it). An unknown, malformed or other tenant's id is 404 `not_found`.
//!
//! This is the hottest catalog read (POS screens, order pricing): `olympus::catalog::
//! read_products`, a read-only tenant transaction whose statements all go out in one database
//! round trip, nothing else.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::catalog::{self, READ, path_id, read_products};
use olympus::http::versioning::etag;
use olympus::http::{Json, Path};
use olympus::{AppState, Error, Function};

pub use catalog::ProductView;

pub fn function() -> Function {
    Function::http("get-product")
        .route(&Method::GET, "/v1/products/{id}", get_product)
        .build()
}

async fn get_product(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let id = path_id(&id, "product")?;
    let conn = state.db()?.get().await?;
    // One database round trip; RLS hides other tenants' products: their ids are not found.
    let view = read_products(&conn, principal.tenant_id, &[id])
        .await?
        .pop()
        .ok_or_else(|| catalog::not_found("product"))?;
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
