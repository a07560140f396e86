//! `request-email-verification` — `POST /v1/auth/email/verification` (no body).
//!
//! The signed-in user asks for a mail that verifies their email address: issues a single-use
//! `email_verification` token ([`TOKEN_HOURS`] hours; earlier unused ones stop working), records
//! `EmailVerificationRequested` (the plaintext token travels to the mail handler; only its hash
//! is stored), audits `auth.email_verification.requested` and answers 202
//! `{"email", "expires_at"}`.
//!
//! - Already verified: 409 `already_verified`.
//! - Asked again within [`COOLDOWN_SECONDS`] seconds while the last token is unused: 429
//!   `verification_recently_sent` with `Retry-After` (no mail flood).
//! - The caller's user must exist in its tenant and not be deactivated (else 404 `not_found`).
//! - Honours `Idempotency-Key` (the answer holds no secret).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `GOOGLE_CLOUD_PROJECT`,
//! `PUBSUB_EMULATOR_HOST` (local). Emits: `auth.email_verification.requested`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use chrono::{DateTime, Utc};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::one_time::{self, Purpose};
use olympus::db;
use olympus::events::identity::EmailVerificationRequested;
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::Serialize;
use serde_json::json;

/// Lifetime of a verification token.
pub const TOKEN_HOURS: u64 = 24;
/// No second mail within this interval while the last token is unused.
pub const COOLDOWN_SECONDS: f64 = 60.0;

pub fn function() -> Function {
    Function::http("request-email-verification")
        .idempotent_route(
            &Method::POST,
            "/v1/auth/email/verification",
            request_verification,
            Idempotency::Optional,
        )
        .publishes(&[EmailVerificationRequested::TYPE])
        .build()
}

/// The 202 answer.
#[derive(Debug, Serialize)]
pub struct VerificationSent {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

fn recently_sent(retry_after: i64) -> Error {
    let seconds = retry_after.max(1);
    let mut err = Error::new(StatusCode::TOO_MANY_REQUESTS, "verification_recently_sent")
        .with_detail("A verification mail was sent moments ago; check your inbox or retry later.")
        .with_extension("retry_after", seconds);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        err = err.with_header(header::RETRY_AFTER, value);
    }
    err
}

async fn request_verification(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
) -> Result<(StatusCode, Json<VerificationSent>), Error> {
    let tenant = principal.tenant_id;
    let user = principal.user_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let row = tx
        .query_opt(
            "SELECT email, name, email_verified_at IS NOT NULL FROM auth.users
             WHERE id = $1 AND status <> 'deactivated' FOR UPDATE",
            &[&user],
        )
        .await?
        .ok_or_else(|| Error::not_found("No such user."))?;
    let email: String = row.get(0);
    let name: String = row.get(1);
    if row.get::<_, bool>(2) {
        return Err(Error::conflict(
            "already_verified",
            "This email address is already verified.",
        ));
    }
    let recent = tx
        .query_opt(
            "SELECT ceil(extract(epoch FROM created_at + make_interval(secs => $3) - now()))::bigint
             FROM auth.one_time_tokens
             WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
               AND created_at > now() - make_interval(secs => $3)
             ORDER BY created_at DESC LIMIT 1",
            &[&user, &Purpose::EmailVerification.as_str(), &COOLDOWN_SECONDS],
        )
        .await?;
    if let Some(row) = recent {
        return Err(recently_sent(row.get(0)));
    }

    let token = one_time::issue(
        &tx,
        tenant,
        user,
        Purpose::EmailVerification,
        Duration::from_secs(TOKEN_HOURS * 3600),
        &json!({ "email": email }),
    )
    .await?;
    let expires_at = Utc::now() + chrono::Duration::hours(TOKEN_HOURS as i64);
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &EmailVerificationRequested {
                user_id: user,
                email: email.clone(),
                name,
                token,
                expires_at,
            },
        )
        .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::from(&principal), "auth.email_verification.requested")
            .target("user", user)
            .details(json!({ "email": email, "expires_at": expires_at })),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(VerificationSent { email, expires_at }),
    ))
}
