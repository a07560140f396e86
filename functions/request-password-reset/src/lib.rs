//! `request-password-reset` — `POST /v1/auth/password/forgot` with `{"tenant": slug, "email"}`.
//!
//! Always answers 202 with the same body, whatever happened: an unknown tenant, an unknown
//! email, a user that is not active and a throttled request are indistinguishable from a real
//! request (no account enumeration). For an active user it issues a single-use
//! `password_reset` token ([`TOKEN_MINUTES`] minutes; earlier unused ones stop working),
//! records `PasswordResetRequested` (carrying the plaintext token to the mail handler; only its
//! hash is stored) and audits `auth.password_reset.requested`.
//!
//! - Throttle: while a reset token of the user issued less than [`COOLDOWN_SECONDS`] ago is
//!   still unused, no new one is issued and no mail is sent (the answer is the same 202), so the
//!   endpoint cannot be used to flood a mailbox.
//! - Timing: the mail is sent by `on-password-reset-requested`, not here, so the answer does not
//!   wait for SMTP. An unknown tenant or user still costs a few database round trips fewer than
//!   a real request (milliseconds); equalizing that is left for later.
//! - Honours `Idempotency-Key` (the answer holds no secret).
//!
//! Env: `DATABASE_URL`, `GOOGLE_CLOUD_PROJECT`, `PUBSUB_EMULATOR_HOST` (local).
//! Emits: `auth.password_reset.requested`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::one_time::{self, Purpose};
use olympus::db::{self, Transaction};
use olympus::events::identity::PasswordResetRequested;
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Lifetime of a reset token.
pub const TOKEN_MINUTES: u64 = 30;
/// No second token (and mail) for a user within this interval while the last one is unused.
pub const COOLDOWN_SECONDS: f64 = 60.0;
/// Longest email looked up (longer ones cannot exist).
const MAX_EMAIL_CHARS: usize = 320;

pub fn function() -> Function {
    Function::http("request-password-reset")
        .idempotent_route(
            &Method::POST,
            "/v1/auth/password/forgot",
            request_reset,
            Idempotency::Optional,
        )
        .publishes(&[PasswordResetRequested::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgotRequest {
    tenant: String,
    email: String,
}

/// The one answer, byte for byte, for every request.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub status: &'static str,
    pub detail: &'static str,
}

pub const ACCEPTED: Accepted = Accepted {
    status: "accepted",
    detail: "If an active account matches, a link to reset its password has been sent to its email address.",
};

/// What happened, for the log only (never shown to the client).
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Issued,
    UnknownTenant,
    UnknownUser,
    NotActive,
    Throttled,
}

async fn request_reset(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<ForgotRequest>,
) -> Result<(StatusCode, Json<Accepted>), Error> {
    let slug = request.tenant.trim().to_lowercase();
    let email = request.email.trim().to_lowercase();
    let outcome = if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        Outcome::UnknownUser
    } else {
        issue_for(&state, &client, &slug, &email).await?
    };
    tracing::info!(outcome = ?outcome, "password reset requested");
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}

async fn issue_for(
    state: &AppState,
    client: &ClientInfo,
    slug: &str,
    email: &str,
) -> Result<Outcome, Error> {
    let mut conn = state.db()?.get().await?;
    // The directory is deliberately outside RLS: the slug is all we know before a tenant.
    let tenant: Option<Uuid> = conn
        .query_opt(
            "SELECT tenant_id FROM platform.tenant_directory WHERE slug = $1",
            &[&slug],
        )
        .await?
        .map(|row| row.get(0));
    let Some(tenant) = tenant else {
        return Ok(Outcome::UnknownTenant);
    };

    let mut outbox = Outbox::default();
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let outcome = issue_in(&tx, &mut outbox, tenant, client, email).await?;
    tx.commit().await?;
    outbox.publish(state).await;
    Ok(outcome)
}

async fn issue_in(
    tx: &Transaction<'_>,
    outbox: &mut Outbox,
    tenant: Uuid,
    client: &ClientInfo,
    email: &str,
) -> Result<Outcome, Error> {
    let row = tx
        .query_opt(
            "SELECT id, name, status FROM auth.users WHERE email = $1 FOR UPDATE",
            &[&email],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Outcome::UnknownUser);
    };
    let user: Uuid = row.get(0);
    let name: String = row.get(1);
    let status: String = row.get(2);
    if status != "active" {
        return Ok(Outcome::NotActive);
    }
    let recent = tx
        .query_opt(
            "SELECT 1 FROM auth.one_time_tokens
             WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
               AND created_at > now() - make_interval(secs => $3)
             LIMIT 1",
            &[&user, &Purpose::PasswordReset.as_str(), &COOLDOWN_SECONDS],
        )
        .await?;
    if recent.is_some() {
        return Ok(Outcome::Throttled);
    }

    let lifetime = Duration::from_secs(TOKEN_MINUTES * 60);
    let token = one_time::issue(
        tx,
        tenant,
        user,
        Purpose::PasswordReset,
        lifetime,
        &json!({ "email": email }),
    )
    .await?;
    let expires_at = chrono::Utc::now() + chrono::Duration::minutes(TOKEN_MINUTES as i64);
    outbox
        .record(
            tx,
            Some(tenant),
            &PasswordResetRequested {
                user_id: user,
                email: email.to_owned(),
                name,
                token,
                expires_at,
            },
        )
        .await?;
    audit::record(
        tx,
        tenant,
        client,
        AuditEvent::new(Actor::Anonymous, "auth.password_reset.requested")
            .target("user", user)
            .details(json!({ "email": email, "expires_at": expires_at })),
    )
    .await?;
    Ok(Outcome::Issued)
}
