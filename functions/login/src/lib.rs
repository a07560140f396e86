//! `login` — `POST /v1/auth/login` with `{"tenant": slug, "email", "password", "device"?}`.
//!
//! Password sign-in: answers 200 with [`Tokens`] (a new session, method `password`) — or, when
//! the user has confirmed TOTP MFA, 200 `{"mfa_required": true, "challenge_token": "ott_...",
//! "methods": ["totp", "recovery_code"]}` and no session: the challenge (single use,
//! [`MFA_CHALLENGE_LIFETIME`], carrying the device label) is redeemed at `verify-mfa`.
//!
//! - No user enumeration: an unknown tenant, an unknown email, a wrong password and a user that
//!   is not active all answer the same 401 `invalid_credentials` after the same argon2 work
//!   (a dummy hash is verified when there is no real one).
//! - Lockout: [`LOCKOUT_THRESHOLD`] consecutive failures lock the account for
//!   [`LOCKOUT_MINUTES`] minutes; a locked account answers 429 `account_locked` with
//!   `Retry-After` without checking the password. A success resets the counter.
//! - Per-IP throttle: [`IP_FAILURE_LIMIT`] failures from one IP against one tenant within
//!   [`IP_WINDOW_MINUTES`] minutes answer 429 `too_many_attempts` with `Retry-After`.
//! - Failures are committed although the response is an error, with their audit rows
//!   (`auth.login.failed`, `auth.account.locked`); a success records `auth.login.succeeded`
//!   (or `auth.mfa.challenged` when a second factor is still due).
//!
//! Not behind `Idempotency-Key`: a stored replay would keep a refresh token in the database.
//!
//! Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`,
//! `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::lockout::{self, Counter, account_locked, ip_throttled, too_many_attempts};
use olympus::auth::session::{self, Tokens};
use olympus::auth::{one_time, password};
use olympus::db::{self, Transaction};
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

// The account lockout and the per-IP throttle (shared with `verify-mfa` and `pin-login`).
pub use olympus::auth::lockout::{
    IP_FAILURE_LIMIT, IP_WINDOW_MINUTES, LOCKOUT_MINUTES, LOCKOUT_THRESHOLD,
};
/// Longest accepted device label.
pub const MAX_DEVICE_CHARS: usize = 200;
/// How long an MFA challenge can be redeemed at `verify-mfa`.
pub const MFA_CHALLENGE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// The second factors `verify-mfa` accepts.
const MFA_METHODS: [&str; 2] = ["totp", "recovery_code"];

pub fn function() -> Function {
    Function::http("login")
        .route(&Method::POST, "/v1/auth/login", login)
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    tenant: String,
    email: String,
    password: String,
    #[serde(default)]
    device: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("tenant", &self.tenant)
            .field("email", &self.email)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// What a successful password check answers: tokens, or an MFA challenge instead.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum LoginResponse {
    Tokens(Tokens),
    MfaRequired(MfaChallenge),
}

#[derive(Serialize)]
struct MfaChallenge {
    mfa_required: bool,
    challenge_token: String,
    methods: [&'static str; 2],
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// The one answer for every credential failure, byte for byte.
fn invalid_credentials() -> Error {
    Error::unauthorized(
        "invalid_credentials",
        "The tenant, email or password is not correct.",
    )
}

/// Why a sign-in failed: only for the audit log, never shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureReason {
    UnknownUser,
    WrongPassword,
    NotActive,
    AccountLocked,
    TooManyAttempts,
}

impl FailureReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::NotActive => "user_not_active",
            Self::AccountLocked => "account_locked",
            Self::TooManyAttempts => "too_many_attempts",
        }
    }
}

/// The account as login sees it.
struct Account {
    id: Uuid,
    password_hash: Option<String>,
    status: String,
    /// Seconds left of a current lockout.
    locked_for: Option<i64>,
}

async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, Error> {
    let device = request
        .device
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if device.is_some_and(|d| d.chars().count() > MAX_DEVICE_CHARS) {
        return Err(Error::unprocessable(
            "invalid_device",
            format!("device must have at most {MAX_DEVICE_CHARS} characters."),
        )
        .with_extension("field", "device"));
    }
    let email = request.email.trim().to_lowercase();
    let slug = request.tenant.trim().to_lowercase();
    let signer = state.signer()?;

    let mut conn = state.db()?.get().await?;
    // The directory is deliberately outside RLS: the slug is all login knows before a tenant.
    let tenant: Option<Uuid> = conn
        .query_opt(
            "SELECT tenant_id FROM platform.tenant_directory WHERE slug = $1",
            &[&slug],
        )
        .await?
        .map(|row| row.get(0));
    let Some(tenant) = tenant else {
        drop(conn);
        // Same argon2 work as a wrong password; nothing to record without a tenant.
        password::verify(request.password, None).await?;
        tracing::info!(reason = "unknown_tenant", "login failed");
        return Err(invalid_credentials());
    };

    let tx = db::tenant_tx(&mut conn, tenant).await?;

    if let Some(ip) = client.ip
        && let Some(retry_after) = ip_throttled(&tx, tenant, ip).await?
    {
        record_failure(
            &tx,
            tenant,
            &client,
            None,
            &email,
            FailureReason::TooManyAttempts,
        )
        .await?;
        tx.commit().await?;
        return Err(too_many_attempts(retry_after));
    }

    let account = find_account(&tx, &email).await?;

    if let Some(account) = &account
        && let Some(locked_for) = account.locked_for
    {
        // Locked: the password is not even looked at.
        record_failure(
            &tx,
            tenant,
            &client,
            Some(account.id),
            &email,
            FailureReason::AccountLocked,
        )
        .await?;
        tx.commit().await?;
        return Err(account_locked(locked_for));
    }

    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let matches = password::verify(request.password, stored).await?;

    let (user, failure) = match &account {
        None => (None, Some(FailureReason::UnknownUser)),
        Some(a) if a.status != "active" => (Some(a.id), Some(FailureReason::NotActive)),
        Some(a) if !matches => (Some(a.id), Some(FailureReason::WrongPassword)),
        Some(a) => (Some(a.id), None),
    };
    let (Some(user), None) = (user, failure) else {
        let reason = failure.unwrap_or(FailureReason::UnknownUser);
        fail(&tx, tenant, &client, user, &email, reason).await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    };

    // Reset the counter; a lockout set by a concurrent failure since the lookup still wins.
    let reset = tx
        .execute(
            "UPDATE auth.users SET failed_logins = 0, locked_until = NULL
             WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now())",
            &[&user],
        )
        .await?;
    if reset == 0 {
        let locked_for = find_account(&tx, &email)
            .await?
            .and_then(|a| a.locked_for)
            .unwrap_or(1);
        tx.commit().await?;
        return Err(account_locked(locked_for));
    }

    // MFA: with a confirmed second factor the password only earns a short-lived challenge,
    // redeemed at `verify-mfa` (which opens the session, method `mfa`). The counter reset above
    // stays: the password itself was right.
    let mfa = tx
        .query_opt(
            "SELECT 1 FROM auth.mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
            &[&user],
        )
        .await?
        .is_some();
    if mfa {
        let challenge_token = one_time::issue(
            &tx,
            tenant,
            user,
            one_time::Purpose::MfaChallenge,
            MFA_CHALLENGE_LIFETIME,
            &json!({ "device": device }),
        )
        .await?;
        audit::record(
            &tx,
            tenant,
            &client,
            AuditEvent::new(Actor::User(user), "auth.mfa.challenged")
                .target("user", user)
                .details(json!({ "methods": MFA_METHODS, "device": device })),
        )
        .await?;
        tx.commit().await?;
        return Ok(Json(LoginResponse::MfaRequired(MfaChallenge {
            mfa_required: true,
            challenge_token,
            methods: MFA_METHODS,
        })));
    }

    let tokens = session::start(
        &tx,
        signer,
        tenant,
        user,
        session::Method::Password,
        device,
        &client,
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.login.succeeded")
            .target("session", tokens.session_id)
            .details(json!({ "method": "password", "device": device })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(LoginResponse::Tokens(tokens)))
}

async fn find_account(tx: &Transaction<'_>, email: &str) -> Result<Option<Account>, Error> {
    let row = tx
        .query_opt(
            "SELECT id, password_hash, status,
                    CASE WHEN locked_until > now()
                         THEN ceil(extract(epoch FROM locked_until - now()))::bigint END
             FROM auth.users WHERE email = $1",
            &[&email],
        )
        .await?;
    Ok(row.map(|r| Account {
        id: r.get(0),
        password_hash: r.get(1),
        status: r.get(2),
        locked_for: r.get(3),
    }))
}

/// A credential failure: counts it against the IP and (for a wrong password) the account,
/// locks the account at the threshold, and audits both.
async fn fail(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    user: Option<Uuid>,
    email: &str,
    reason: FailureReason,
) -> Result<(), Error> {
    if let Some(ip) = client.ip {
        lockout::record_ip_failure(tx, tenant, ip).await?;
    }
    record_failure(tx, tenant, client, user, email, reason).await?;
    if reason != FailureReason::WrongPassword {
        return Ok(());
    }
    let Some(user) = user else {
        return Ok(());
    };
    // A lockout that has run out starts a fresh count.
    let failures = lockout::record_failure(tx, user, Counter::Password).await?;
    lockout::audit_if_locked(tx, tenant, client, user, &failures).await
}

async fn record_failure(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    user: Option<Uuid>,
    email: &str,
    reason: FailureReason,
) -> Result<(), Error> {
    let mut event = AuditEvent::new(
        user.map_or(Actor::Anonymous, Actor::User),
        "auth.login.failed",
    )
    .details(json!({ "reason": reason.as_str(), "email": email }));
    if let Some(user) = user {
        event = event.target("user", user);
    }
    audit::record(tx, tenant, client, event).await
}
