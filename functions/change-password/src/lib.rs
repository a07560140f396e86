//! `change-password` — `POST /v1/auth/password` with `{"current_password", "new_password"}`.
//!
//! A signed-in user (an access token with a session) changes their own password: the current
//! password is verified (argon2), the new one validated (422 `weak_password`) and stored, and
//! every OTHER session of the user is revoked (reason `password_changed`); the session making
//! the change stays open. Answers 204.
//!
//! - A wrong current password is 401 `invalid_credentials`, committed with its audit row
//!   (`auth.password.change_failed`); a success records `auth.password.changed`.
//! - A credential without a session (API key) is 403 `session_required`; a session that is no
//!   longer open (revoked, expired) or a user that is not active is 401 `session_closed`.
//! - Not behind `Idempotency-Key`: the stored fingerprint would be a fast hash of the passwords
//!   in the body. A retry after success fails safely (401: the current password changed).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::{Principal, password, session};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;

pub fn function() -> Function {
    Function::http("change-password")
        .route(&Method::POST, "/v1/auth/password", change_password)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .finish_non_exhaustive()
    }
}

fn invalid_credentials() -> Error {
    Error::unauthorized(
        "invalid_credentials",
        "The current password is not correct.",
    )
}

fn session_closed() -> Error {
    Error::unauthorized(
        "session_closed",
        "This session is no longer open; sign in again.",
    )
}

async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<ChangePasswordRequest>,
) -> Result<StatusCode, Error> {
    let Some(current_session) = principal.session_id else {
        return Err(Error::forbidden(
            "session_required",
            "Only a signed-in user can change their password, not an API key.",
        ));
    };
    password::validate_new_password(&request.new_password)?;
    let tenant = principal.tenant_id;
    let user = principal.user_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // The access token outlives a revoked session by minutes: the session itself must be open.
    let row = tx
        .query_opt(
            "SELECT u.password_hash
             FROM auth.users u JOIN auth.sessions s ON s.user_id = u.id
             WHERE u.id = $1 AND s.id = $2 AND u.status = 'active'
               AND s.revoked_at IS NULL AND s.expires_at > now()
             FOR UPDATE OF u",
            &[&user, &current_session],
        )
        .await?;
    let Some(row) = row else {
        return Err(session_closed());
    };
    let stored: Option<String> = row.get(0);

    if !password::verify(request.current_password, stored).await? {
        audit::record(
            &tx,
            tenant,
            &client,
            AuditEvent::new(Actor::User(user), "auth.password.change_failed")
                .target("user", user)
                .details(json!({ "reason": "wrong_password", "session_id": current_session })),
        )
        .await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    }

    let hash = password::hash(request.new_password).await?;
    tx.execute(
        "UPDATE auth.users SET password_hash = $2, failed_logins = 0, locked_until = NULL,
                updated_at = now()
         WHERE id = $1",
        &[&user, &hash],
    )
    .await?;
    let revoked =
        session::revoke_user_sessions(&tx, user, Some(current_session), "password_changed").await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.password.changed")
            .target("user", user)
            .details(json!({ "session_id": current_session, "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
