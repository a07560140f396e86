//! `disable-totp` — `DELETE /v1/auth/mfa/totp` (bearer token of a session) with
//! `{"password": "..."}` (a JSON body on DELETE).
//!
//! Turns TOTP MFA off for the calling user after re-checking the password: the TOTP row
//! (confirmed or pending) and every recovery code are deleted; 204. A wrong password is
//! 401 `invalid_credentials` (audited as `auth.mfa.failed`); nothing enrolled is still 204
//! (the desired state holds). A credential without a session (API keys) gets 403
//! `session_required`.
//!
//! Audit: `auth.mfa.disabled`, `auth.mfa.failed`. Env: `DATABASE_URL`, `AUTH_JWKS`,
//! `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::{Principal, password};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;

pub fn function() -> Function {
    Function::http("disable-totp")
        .route(&Method::DELETE, "/v1/auth/mfa/totp", disable)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableRequest {
    password: String,
}

impl std::fmt::Debug for DisableRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisableRequest").finish_non_exhaustive()
    }
}

async fn disable(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<DisableRequest>,
) -> Result<StatusCode, Error> {
    if principal.session_id.is_none() {
        return Err(Error::forbidden(
            "session_required",
            "Only a signed-in user can disable a second factor.",
        ));
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let stored: Option<String> = tx
        .query_opt(
            "SELECT password_hash FROM auth.users WHERE id = $1 AND status = 'active'",
            &[&principal.user_id],
        )
        .await?
        .and_then(|row| row.get(0));
    if !password::verify(request.password, stored).await? {
        audit::record(
            &tx,
            principal.tenant_id,
            &client,
            AuditEvent::new(Actor::from(&principal), "auth.mfa.failed")
                .target("user", principal.user_id)
                .details(json!({ "stage": "disable", "reason": "wrong_password" })),
        )
        .await?;
        tx.commit().await?;
        return Err(Error::unauthorized(
            "invalid_credentials",
            "The password is not correct.",
        ));
    }
    let removed = tx
        .execute(
            "DELETE FROM auth.mfa_totp WHERE user_id = $1",
            &[&principal.user_id],
        )
        .await?;
    let codes = tx
        .execute(
            "DELETE FROM auth.recovery_codes WHERE user_id = $1",
            &[&principal.user_id],
        )
        .await?;
    if removed > 0 || codes > 0 {
        audit::record(
            &tx,
            principal.tenant_id,
            &client,
            AuditEvent::new(Actor::from(&principal), "auth.mfa.disabled")
                .target("user", principal.user_id)
                .details(json!({ "method": "totp", "recovery_codes_deleted": codes })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
