//! `verify-email` — `POST /v1/auth/email/verify` with `{"token"}` (no sign-in needed: the link
//! may be opened on another device).
//!
//! Consumes the single-use `email_verification` token mailed by `request-email-verification`,
//! sets the user's `email_verified_at` and audits `auth.email.verified`; answers 204.
//!
//! A malformed, unknown, expired, already used or other-purpose token, a token for an address
//! the user no longer has, or one of a deactivated user is 400 `invalid_token`. The tenant is
//! read from the token only to scope the transaction; a forged tenant part finds nothing.
//! Not behind `Idempotency-Key` (the body holds a token); a retry after success answers 400
//! `invalid_token`.
//!
//! Env: `DATABASE_URL`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::one_time::{self, Purpose};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;

pub fn function() -> Function {
    Function::http("verify-email")
        .route(&Method::POST, "/v1/auth/email/verify", verify_email)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    token: String,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest").finish_non_exhaustive()
    }
}

fn invalid_token() -> Error {
    Error::bad_request(
        "invalid_token",
        "The link or code is invalid, expired or already used.",
    )
}

async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<VerifyRequest>,
) -> Result<StatusCode, Error> {
    let token = request.token.trim();
    let tenant = one_time::tenant_of(token).ok_or_else(invalid_token)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let consumed = one_time::consume(&tx, token, Purpose::EmailVerification).await?;
    let user = consumed.user_id;
    let email = consumed
        .details
        .get("email")
        .and_then(|v| v.as_str())
        .ok_or_else(invalid_token)?
        .to_owned();
    // Only the address the mail went to is verified; an address changed since is not.
    let updated = tx
        .execute(
            "UPDATE auth.users SET email_verified_at = now(), version = version + 1,
                    updated_at = now()
             WHERE id = $1 AND email = $2 AND status <> 'deactivated'
               AND email_verified_at IS NULL",
            &[&user, &email],
        )
        .await?;
    if updated == 0 {
        let still_valid = tx
            .query_opt(
                "SELECT 1 FROM auth.users
                 WHERE id = $1 AND email = $2 AND status <> 'deactivated'",
                &[&user, &email],
            )
            .await?
            .is_some();
        if !still_valid {
            return Err(invalid_token());
        }
        // Verified meanwhile (e.g. by a password reset): the token is spent, nothing else to do.
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.email.verified")
            .target("user", user)
            .details(json!({ "email": email })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
