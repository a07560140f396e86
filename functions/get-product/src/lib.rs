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
//! This is the hottest catalog read (POS screens, order pricing): answered from the instance's
//! [`olympus::catalog::cache::ProductCache`] after a one-statement check (coalesced between
//! concurrent requests of a tenant) that the tenant's catalog has not changed since, else read
//! in one database round trip (`olympus::catalog::read_products`) and cached.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::catalog::cache::ProductCache;
use olympus::catalog::{self, READ, path_id};
use olympus::http::Path;
use olympus::{AppState, Error, Function};

pub use catalog::ProductView;

pub fn function() -> Function {
    function_with(ProductCache::default())
}

/// The function with a given cache (the benchmark measures the miss path with caching off).
pub fn function_with(cache: ProductCache) -> Function {
    let cache = Arc::new(cache);
    Function::http("get-product")
        .route(
            &Method::GET,
            "/v1/products/{id}",
            move |state: State<AppState>, principal: Principal, id: Path<String>| {
                get_product(state, principal, id, Arc::clone(&cache))
            },
        )
        .build()
}

async fn get_product(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    cache: Arc<ProductCache>,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let id = path_id(&id, "product")?;
    // RLS hides other tenants' products: their ids are not found.
    let (product, _) = cache
        .read(state.db()?, principal.tenant_id, id)
        .await?
        .ok_or_else(|| catalog::not_found("product"))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, product.etag.clone()),
        ],
        product.body.clone(),
    )
        .into_response())
}
