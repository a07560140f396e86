//! `verify-mfa` — `POST /v1/auth/mfa/verify` with `{"challenge_token", "code"}` or
//! `{"challenge_token", "recovery_code"}` (exactly one of the two).
//!
//! The second step of an MFA sign-in: `login` answered a challenge instead of tokens; a TOTP
//! code (SHA-1, 6 digits, 30 s, ±1 step) or an unused recovery code redeems it for a session
//! (method `mfa`, with the device label given to `login`): 200 [`Tokens`].
//!
//! - The challenge (tenant read from its `ott_<tenant>_` prefix) must be unused, unexpired and
//!   of purpose `mfa_challenge`, else 401 `invalid_token`. It is locked, not consumed, while
//!   the code is checked: a wrong code leaves it usable; a success consumes it.
//! - A TOTP step at or before the last accepted one is a replay: 401 `invalid_code`, like a
//!   wrong code. A recovery code works once (`used_at`).
//! - A wrong code counts toward the user's lockout exactly like a wrong password at `login`
//!   ([`LOCKOUT_THRESHOLD`] failures lock for [`LOCKOUT_MINUTES`] minutes); a locked account
//!   answers 429 `account_locked` with `Retry-After` without checking the code. Failures are
//!   committed although the answer is an error. A success resets the counter.
//! - Malformed body or both/neither of `code` and `recovery_code`: 422 `invalid_body`.
//!
//! Not behind `Idempotency-Key`: a stored replay would keep a refresh token in the database.
//!
//! Audit: `auth.mfa.verified`, `auth.recovery_code.used`, `auth.login.succeeded` (method
//! `mfa`), `auth.mfa.failed`, `auth.account.locked`. Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`,
//! `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::lockout::{self, Counter, account_locked};
use olympus::auth::one_time;
use olympus::auth::session::{self, Tokens, token_hash};
use olympus::auth::totp::{matching_step, recovery_hash, unix_now};
use olympus::db::{self, Transaction};
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

// Consecutive failures that lock an account, and for how long (the same counter and values as
// `login`).
pub use olympus::auth::lockout::{LOCKOUT_MINUTES, LOCKOUT_THRESHOLD};

pub fn function() -> Function {
    Function::http("verify-mfa")
        .route(&Method::POST, "/v1/auth/mfa/verify", verify)
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    challenge_token: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("code", &self.code.is_some())
            .field("recovery_code", &self.recovery_code.is_some())
            .finish_non_exhaustive()
    }
}

/// The second factor presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

impl Factor<'_> {
    fn method(self) -> &'static str {
        match self {
            Self::Totp(_) => "totp",
            Self::RecoveryCode(_) => "recovery_code",
        }
    }
}

fn factor(request: &VerifyRequest) -> Result<Factor<'_>, Error> {
    match (request.code.as_deref(), request.recovery_code.as_deref()) {
        (Some(code), None) => Ok(Factor::Totp(code)),
        (None, Some(code)) => Ok(Factor::RecoveryCode(code)),
        _ => Err(Error::unprocessable(
            "invalid_body",
            "Give exactly one of `code` (from the authenticator app) and `recovery_code`.",
        )),
    }
}

fn invalid_token() -> Error {
    Error::unauthorized(
        "invalid_token",
        "The sign-in challenge is invalid, expired or already used; sign in again.",
    )
}

fn invalid_code() -> Error {
    Error::unauthorized("invalid_code", "The code is not correct.")
}

/// Why a second factor failed: only for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    WrongCode,
    ReplayedCode,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Self::WrongCode => "wrong_code",
            Self::ReplayedCode => "replayed_code",
        }
    }
}

/// The open challenge, locked with its user.
struct Challenge {
    user: Uuid,
    device: Option<String>,
    active: bool,
    locked_for: Option<i64>,
}

async fn verify(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<VerifyRequest>,
) -> Result<Json<Tokens>, Error> {
    let factor = factor(&request)?;
    let tenant = one_time::tenant_of(&request.challenge_token).ok_or_else(invalid_token)?;
    let signer = state.signer()?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let hash = token_hash(&request.challenge_token);

    let Some(challenge) = challenge(&tx, &hash).await? else {
        return Err(invalid_token());
    };
    if !challenge.active {
        return Err(invalid_token());
    }
    let user = challenge.user;
    if let Some(locked_for) = challenge.locked_for {
        audit::record(
            &tx,
            tenant,
            &client,
            AuditEvent::new(Actor::User(user), "auth.mfa.failed")
                .target("user", user)
                .details(json!({ "method": factor.method(), "reason": "account_locked" })),
        )
        .await?;
        tx.commit().await?;
        return Err(account_locked(locked_for));
    }

    let outcome = match factor {
        Factor::Totp(code) => check_totp(&tx, user, code).await?,
        Factor::RecoveryCode(code) => check_recovery_code(&tx, tenant, &client, user, code).await?,
    };
    if let Err(reason) = outcome {
        fail(&tx, tenant, &client, user, factor, reason).await?;
        tx.commit().await?;
        return Err(invalid_code());
    }

    tx.execute(
        "UPDATE auth.one_time_tokens SET used_at = now() WHERE token_hash = $1",
        &[&hash],
    )
    .await?;
    tx.execute(
        "UPDATE auth.users SET failed_logins = 0, locked_until = NULL WHERE id = $1",
        &[&user],
    )
    .await?;
    let device = challenge.device.as_deref();
    let tokens = session::start(
        &tx,
        signer,
        tenant,
        user,
        session::Method::Mfa,
        device,
        &client,
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.mfa.verified")
            .target("user", user)
            .details(json!({ "method": factor.method(), "session_id": tokens.session_id })),
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.login.succeeded")
            .target("session", tokens.session_id)
            .details(json!({ "method": "mfa", "factor": factor.method(), "device": device })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Looks the challenge up and locks it (and its user), without consuming it.
async fn challenge(tx: &Transaction<'_>, hash: &[u8]) -> Result<Option<Challenge>, Error> {
    let row = tx
        .query_opt(
            "SELECT t.user_id, t.details ->> 'device', u.status = 'active',
                    CASE WHEN u.locked_until > now()
                         THEN ceil(extract(epoch FROM u.locked_until - now()))::bigint END
             FROM auth.one_time_tokens t JOIN auth.users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.purpose = $2
               AND t.used_at IS NULL AND t.expires_at > now()
             FOR UPDATE OF t, u",
            &[&hash, &one_time::Purpose::MfaChallenge.as_str()],
        )
        .await?;
    Ok(row.map(|r| Challenge {
        user: r.get(0),
        device: r.get(1),
        active: r.get(2),
        locked_for: r.get(3),
    }))
}

/// Checks a TOTP code against the confirmed secret and records its step (replay protection).
async fn check_totp(
    tx: &Transaction<'_>,
    user: Uuid,
    code: &str,
) -> Result<Result<(), Failure>, Error> {
    let row = tx
        .query_opt(
            "SELECT secret, last_step FROM auth.mfa_totp
             WHERE user_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE",
            &[&user],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Err(Failure::WrongCode));
    };
    let last_step: Option<i64> = row.get(1);
    let Some(step) = matching_step(row.get(0), code, unix_now())? else {
        return Ok(Err(Failure::WrongCode));
    };
    let step = i64::try_from(step).map_err(Error::internal)?;
    if last_step.is_some_and(|last| step <= last) {
        return Ok(Err(Failure::ReplayedCode));
    }
    tx.execute(
        "UPDATE auth.mfa_totp SET last_step = $2 WHERE user_id = $1",
        &[&user, &step],
    )
    .await?;
    Ok(Ok(()))
}

/// Uses up a recovery code, when it is one of the user's unused ones.
async fn check_recovery_code(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    user: Uuid,
    code: &str,
) -> Result<Result<(), Failure>, Error> {
    let used = tx
        .execute(
            "UPDATE auth.recovery_codes SET used_at = now()
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            &[&user, &recovery_hash(code)],
        )
        .await?;
    if used == 0 {
        return Ok(Err(Failure::WrongCode));
    }
    let remaining: i64 = tx
        .query_one(
            "SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            &[&user],
        )
        .await?
        .get(0);
    audit::record(
        tx,
        tenant,
        client,
        AuditEvent::new(Actor::User(user), "auth.recovery_code.used")
            .target("user", user)
            .details(json!({ "remaining": remaining })),
    )
    .await?;
    Ok(Ok(()))
}

/// A wrong second factor: counts toward the lockout like a wrong password, and audits.
async fn fail(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    user: Uuid,
    factor: Factor<'_>,
    reason: Failure,
) -> Result<(), Error> {
    // The same counter as `login`; a lockout that has run out starts a fresh count.
    let failures = lockout::record_failure(tx, user, Counter::Password).await?;
    audit::record(
        tx,
        tenant,
        client,
        AuditEvent::new(Actor::User(user), "auth.mfa.failed")
            .target("user", user)
            .details(json!({
                "method": factor.method(),
                "reason": reason.as_str(),
                "failed_logins": failures.count,
            })),
    )
    .await?;
    lockout::audit_if_locked(tx, tenant, client, user, &failures).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(code: Option<&str>, recovery_code: Option<&str>) -> VerifyRequest {
        VerifyRequest {
            challenge_token: "ott_x".to_owned(),
            code: code.map(str::to_owned),
            recovery_code: recovery_code.map(str::to_owned),
        }
    }

    #[test]
    fn exactly_one_factor() {
        assert_eq!(
            factor(&request(Some("123456"), None)).unwrap(),
            Factor::Totp("123456")
        );
        assert_eq!(
            factor(&request(None, Some("abcde-fghjk"))).unwrap(),
            Factor::RecoveryCode("abcde-fghjk")
        );
        assert_eq!(
            factor(&request(None, None)).unwrap_err().code(),
            "invalid_body"
        );
        assert_eq!(
            factor(&request(Some("1"), Some("2"))).unwrap_err().code(),
            "invalid_body"
        );
    }
}
