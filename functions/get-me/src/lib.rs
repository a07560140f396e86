//! `get-me` — `GET /v1/auth/me`.
//!
//! The signed-in user: the user row (id, email, name, status, email_verified), its tenant (id,
//! slug, name), and the grants the access token carries (roles, permissions, locations — `null`
//! meaning every location) with the token's session id. 404 `not_found` when the user no
//! longer exists.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::Json;
use olympus::{AppState, Error, Function};
use serde::Serialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("get-me")
        .route(&Method::GET, "/v1/auth/me", get_me)
        .build()
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub user: User,
    pub tenant: Tenant,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// `None` (JSON `null`): every location of the tenant.
    pub locations: Option<Vec<Uuid>>,
    pub session_id: Option<Uuid>,
}

#[derive(Debug, Serialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub status: String,
    pub email_verified: bool,
}

#[derive(Debug, Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

async fn get_me(State(state): State<AppState>, principal: Principal) -> Result<Json<Me>, Error> {
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            "SELECT u.id, u.email, u.name, u.status, u.email_verified_at IS NOT NULL,
                    t.id, t.slug, t.name
             FROM auth.users u JOIN platform.tenants t ON t.id = u.tenant_id
             WHERE u.id = $1",
            &[&principal.user_id],
        )
        .await?
        .ok_or_else(|| Error::not_found("The signed-in user no longer exists."))?;
    tx.commit().await?;
    Ok(Json(Me {
        user: User {
            id: row.get(0),
            email: row.get(1),
            name: row.get(2),
            status: row.get(3),
            email_verified: row.get(4),
        },
        tenant: Tenant {
            id: row.get(5),
            slug: row.get(6),
            name: row.get(7),
        },
        roles: principal.roles,
        permissions: principal.permissions,
        locations: principal.locations,
        session_id: principal.session_id,
    }))
}
