//! `revoke-api-key` — `DELETE /v1/api-keys/{id}` (needs `api_keys:write`).
//!
//! Revokes the key (sets `revoked_at`; from then on it is 401 `invalid_api_key`) and answers
//! 204. Revoking a revoked key is 204 again, without a new audit row. An unknown id, or another
//! tenant's, is 404 and changes nothing. A key may revoke itself.
//!
//! Audit: `auth.api_key.revoked`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, AuditEvent};
use olympus::auth::{Principal, api_keys};
use olympus::db;
use olympus::http::{ClientInfo, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "api_keys:write";

pub fn function() -> Function {
    Function::http("revoke-api-key")
        .route(&Method::DELETE, "/v1/api-keys/{id}", revoke)
        .build()
}

fn not_found() -> Error {
    Error::not_found("No such API key.")
}

async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    principal.require(WRITE)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            "SELECT name, prefix, revoked_at IS NOT NULL FROM auth.api_keys WHERE id = $1
             FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    if !row.get::<_, bool>(2) {
        tx.execute(
            "UPDATE auth.api_keys SET revoked_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
        audit::record(
            &tx,
            principal.tenant_id,
            &client,
            AuditEvent::new(api_keys::actor(&principal), "auth.api_key.revoked")
                .target("api_key", id)
                .details(json!({
                    "name": row.get::<_, String>(0),
                    "prefix": row.get::<_, String>(1),
                })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
