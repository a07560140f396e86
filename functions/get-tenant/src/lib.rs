//! `get-tenant` — `GET /v1/tenant`: the caller's tenant (needs `tenant:read`).
//!
//! Answers the profile (id, slug, name, industry, currency, time zone), the plan and its limits,
//! settings, branding, version and timestamps, with `ETag: "<version>"` for `PATCH /v1/tenant`'s
//! `If-Match`. The route has no id: the tenant is the one of the access token, read inside a
//! transaction scoped to it.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::Json;
use olympus::{AppState, Error, Function};

use olympus::tenants as tenant_view;
pub use olympus::tenants::TenantView;

pub fn function() -> Function {
    Function::http("get-tenant")
        .route(&Method::GET, "/v1/tenant", get_tenant)
        .build()
}

async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Error> {
    principal.require("tenant:read")?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {} FROM platform.tenants WHERE id = $1",
                tenant_view::COLUMNS
            ),
            &[&principal.tenant_id],
        )
        .await?
        .ok_or_else(|| Error::not_found("The tenant of this token does not exist."))?;
    tx.commit().await?;
    let view = TenantView::from_row(&row)?;
    let etag = HeaderValue::from_str(&view.etag()).map_err(Error::internal)?;
    Ok(([(header::ETAG, etag)], Json(view)).into_response())
}
