//! `get-user` — `GET /v1/users/{id}`: one user of the caller's tenant (needs `users:read`,
//! except for the caller's own id).
//!
//! Answers the user (id, email, name, status, email_verified, roles with their location ids,
//! version, timestamps) with `ETag: "<version>"` for `PATCH /v1/users/{id}`. An id of another
//! tenant, unknown or malformed is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{Json, Path};
use olympus::users;
use olympus::{AppState, Error, Function};
use uuid::Uuid;

pub use olympus::users::{RoleGrant, UserView};

/// The permission reading another user needs.
pub const READ: &str = "users:read";

pub fn function() -> Function {
    Function::http("get-user")
        .route(&Method::GET, "/v1/users/{id}", get_user)
        .build()
}

async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, Error> {
    if id != principal.user_id {
        principal.require(READ)?;
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let user = users::find(&tx, id, false)
        .await?
        .ok_or_else(|| Error::not_found("No such user."))?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(user.version))], Json(user)).into_response())
}
