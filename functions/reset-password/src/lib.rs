//! `reset-password` — `POST /v1/auth/password/reset` with `{"token", "new_password"}`.
//!
//! Completes a password reset with the single-use token mailed by `request-password-reset`:
//! the new password is validated (422 `weak_password`, checked before the token is spent),
//! stored, the failed-login counter and any lockout are cleared, EVERY session of the user is
//! revoked (reason `password_reset`), and the email address counts as verified (following the
//! link proved control of the mailbox, unless the address changed since the mail was sent).
//! Audits `auth.password.reset`; answers 204.
//!
//! A malformed, unknown, expired, already used or other-purpose token — or one of a user that is
//! no longer active — is 400 `invalid_token`. The tenant is read from the token only to scope
//! the transaction; a forged tenant part simply finds nothing. Not behind
//! `Idempotency-Key` (the body holds a password and a token); a retry after success answers 400
//! `invalid_token`, the token being spent.
//!
//! Env: `DATABASE_URL`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::one_time::{self, Purpose};
use olympus::auth::{password, session};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;

pub fn function() -> Function {
    Function::http("reset-password")
        .route(&Method::POST, "/v1/auth/password/reset", reset_password)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    token: String,
    new_password: String,
}

impl std::fmt::Debug for ResetRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetRequest").finish_non_exhaustive()
    }
}

fn invalid_token() -> Error {
    Error::bad_request(
        "invalid_token",
        "The link or code is invalid, expired or already used.",
    )
}

async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<ResetRequest>,
) -> Result<StatusCode, Error> {
    let token = request.token.trim();
    let tenant = one_time::tenant_of(token).ok_or_else(invalid_token)?;
    password::validate_new_password(&request.new_password)?;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // Spent in this transaction: any failure below rolls the use back.
    let consumed = one_time::consume(&tx, token, Purpose::PasswordReset).await?;
    let user = consumed.user_id;
    let mailed_to = consumed
        .details
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_owned);

    let hash = password::hash(request.new_password).await?;
    let row = tx
        .query_opt(
            "UPDATE auth.users SET
                    password_hash = $2, failed_logins = 0, locked_until = NULL,
                    email_verified_at = CASE WHEN email = $3 AND email_verified_at IS NULL
                                             THEN now() ELSE email_verified_at END,
                    version = version + CASE WHEN email = $3 AND email_verified_at IS NULL
                                             THEN 1 ELSE 0 END,
                    updated_at = now()
             WHERE id = $1 AND status = 'active'
             RETURNING email_verified_at IS NOT NULL",
            &[&user, &hash, &mailed_to],
        )
        .await?;
    let Some(row) = row else {
        // Deactivated since the mail went out: refused, and the rollback changes nothing.
        return Err(invalid_token());
    };
    let email_verified: bool = row.get(0);
    let revoked = session::revoke_user_sessions(&tx, user, None, "password_reset").await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.password.reset")
            .target("user", user)
            .details(json!({ "sessions_revoked": revoked, "email_verified": email_verified })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
