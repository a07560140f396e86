//! `enroll-totp` — `POST /v1/auth/mfa/totp` (bearer token of a session), no body.
//!
//! Starts TOTP enrolment (RFC 6238: SHA-1, 6 digits, 30 s) for the calling user: a fresh
//! 20-byte secret is stored in `auth.mfa_totp` unconfirmed (replacing any earlier unconfirmed
//! enrolment) and returned ONCE, as base32 and as an `otpauth://` URI for authenticator apps:
//! 200 `{"secret", "otpauth_uri"}` with `Cache-Control: no-store`. MFA is only active after
//! `confirm-totp`. When it is already active: 409 `mfa_already_enabled` (disable it first).
//! A credential without a session (API keys) gets 403 `session_required`.
//!
//! Not behind `Idempotency-Key`: a stored replay would keep the secret in the database.
//!
//! Audit: `auth.mfa.enrolled`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Serialize;
use serde_json::json;

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Olympus";
/// RFC 4226 recommends 160 bits.
pub const SECRET_BYTES: usize = 20;

pub fn function() -> Function {
    Function::http("enroll-totp")
        .route(&Method::POST, "/v1/auth/mfa/totp", enroll)
        .build()
}

#[derive(Serialize)]
struct Enrolment {
    secret: String,
    otpauth_uri: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment").finish_non_exhaustive()
    }
}

/// Percent-encodes a URI label or query value (RFC 3986 unreserved characters and `@` stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The Key Uri Format understood by authenticator apps.
fn otpauth_uri(email: &str, secret_base32: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret_base32}&issuer={issuer}\
         &algorithm=SHA1&digits=6&period=30",
        issuer = encode(ISSUER),
        account = encode(email),
    )
}

fn new_secret() -> Result<[u8; SECRET_BYTES], Error> {
    let mut secret = [0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut secret)
        .map_err(|_| Error::internal(std::io::Error::other("no randomness")))?;
    Ok(secret)
}

async fn enroll(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
) -> Result<([(header::HeaderName, HeaderValue); 1], Json<Enrolment>), Error> {
    if principal.session_id.is_none() {
        return Err(Error::forbidden(
            "session_required",
            "Only a signed-in user can enrol a second factor.",
        ));
    }
    let secret = new_secret()?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let email: String = tx
        .query_opt(
            "SELECT email FROM auth.users WHERE id = $1 AND status = 'active'",
            &[&principal.user_id],
        )
        .await?
        .map(|row| row.get(0))
        .ok_or_else(|| Error::forbidden("user_not_active", "This user is not active."))?;
    // Replaces an unconfirmed enrolment; never touches a confirmed one.
    let stored = tx
        .execute(
            "INSERT INTO auth.mfa_totp (user_id, tenant_id, secret) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE
                 SET secret = excluded.secret, created_at = now(), confirmed_at = NULL,
                     last_step = NULL
                 WHERE auth.mfa_totp.confirmed_at IS NULL",
            &[&principal.user_id, &principal.tenant_id, &secret.as_slice()],
        )
        .await?;
    if stored == 0 {
        return Err(Error::conflict(
            "mfa_already_enabled",
            "Two-factor authentication is already enabled; disable it before enrolling again.",
        ));
    }
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(Actor::from(&principal), "auth.mfa.enrolled")
            .target("user", principal.user_id)
            .details(json!({ "method": "totp" })),
    )
    .await?;
    tx.commit().await?;
    let secret = totp_rs::Secret::from(secret).to_base32();
    let otpauth_uri = otpauth_uri(&email, &secret);
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(Enrolment {
            secret,
            otpauth_uri,
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uri_has_the_key_uri_format() {
        assert_eq!(
            otpauth_uri("ana+pos@bistro.example", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/Olympus:ana%2Bpos@bistro.example?secret=JBSWY3DPEHPK3PXP\
             &issuer=Olympus&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(encode("a b:c/d"), "a%20b%3Ac%2Fd");
    }

    #[test]
    fn secrets_are_random_and_base32_is_32_chars() {
        let one = new_secret().unwrap();
        assert_ne!(one, new_secret().unwrap());
        let text = totp_rs::Secret::from(one).to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(
            totp_rs::Secret::try_from_base32(&text).unwrap().as_bytes(),
            &one
        );
    }
}
