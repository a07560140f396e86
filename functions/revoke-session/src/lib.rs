//! `revoke-session` — `DELETE /v1/auth/sessions/{id}`.
//!
//! Revokes one session (and so its refresh tokens) and answers 204. Callers may revoke their
//! own sessions; holders of `users:write` may revoke any session of their tenant. Any other id —
//! another user's, another tenant's, unknown or malformed (the `Path<Uuid>` extractor answers
//! that one) — is 404 `not_found` and changes nothing (never 403: the id's existence is not
//! revealed). Revoking a session that is already revoked is 204 without a new audit row.
//!
//! Audit: `auth.session.revoked`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::session;
use olympus::db;
use olympus::http::{ClientInfo, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;
use uuid::Uuid;

/// The permission that lets an admin revoke other users' sessions.
pub const ADMIN_PERMISSION: &str = "users:write";

pub fn function() -> Function {
    Function::http("revoke-session")
        .route(&Method::DELETE, "/v1/auth/sessions/{id}", revoke)
        .build()
}

fn session_not_found() -> Error {
    Error::not_found("No such session.")
}

async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    // RLS already hides other tenants' sessions.
    let owner: Uuid = tx
        .query_opt(
            "SELECT user_id FROM auth.sessions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .map(|row| row.get(0))
        .ok_or_else(session_not_found)?;
    let own = owner == principal.user_id;
    if !own && !principal.has_permission(ADMIN_PERMISSION) {
        return Err(session_not_found());
    }
    let reason = if own {
        "revoked_by_user"
    } else {
        "revoked_by_admin"
    };
    if session::revoke_session(&tx, id, reason).await? {
        audit::record(
            &tx,
            principal.tenant_id,
            &client,
            AuditEvent::new(Actor::from(&principal), "auth.session.revoked")
                .target("session", id)
                .details(json!({
                    "user_id": owner,
                    "reason": reason,
                    "current": principal.session_id == Some(id),
                })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
