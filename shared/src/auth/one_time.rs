//! Single-use tokens: password reset, email verification, invites, MFA challenges.
//!
//! `ott_<tenant id>_<32 random bytes, base64url>`; only the SHA-256 is stored
//! (`auth.one_time_tokens`). Consuming is atomic: the row is marked used in the consumer's
//! transaction, so a token works once even under concurrent use.

use std::time::Duration;

use uuid::Uuid;

use super::session::{random_secret, token_hash};
use crate::db::Transaction;
use crate::error::Error;

const PREFIX: &str = "ott_";

/// What a token is for; a token of one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
    Invite,
    MfaChallenge,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::Invite => "invite",
            Self::MfaChallenge => "mfa_challenge",
        }
    }
}

/// Whether `token` is still usable for `purpose` in the tenant of `tx` (unused, unexpired, not
/// superseded by a newer one), without consuming it: the mailers check it before sending a link.
pub async fn is_usable(tx: &Transaction<'_>, token: &str, purpose: Purpose) -> Result<bool, Error> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM auth.one_time_tokens
             WHERE token_hash = $1 AND purpose = $2
               AND used_at IS NULL AND expires_at > now()",
            &[&token_hash(token), &purpose.as_str()],
        )
        .await?
        .is_some())
}

/// Issues a token for `user` (inside the tenant's transaction). Earlier unused tokens of the
/// same purpose for the user stop working, so only the newest link is valid.
pub async fn issue(
    tx: &Transaction<'_>,
    tenant: Uuid,
    user: Uuid,
    purpose: Purpose,
    lifetime: Duration,
    details: &serde_json::Value,
) -> Result<String, Error> {
    tx.execute(
        "UPDATE auth.one_time_tokens SET used_at = now()
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
        &[&user, &purpose.as_str()],
    )
    .await?;
    let token = format!("{PREFIX}{}_{}", tenant.simple(), random_secret()?);
    tx.execute(
        "INSERT INTO auth.one_time_tokens (token_hash, tenant_id, user_id, purpose, expires_at, details)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)",
        &[
            &token_hash(&token),
            &tenant,
            &user,
            &purpose.as_str(),
            &lifetime.as_secs_f64(),
            details,
        ],
    )
    .await?;
    Ok(token)
}

/// The tenant a token belongs to, when it has the right shape (to scope the transaction).
pub fn tenant_of(token: &str) -> Option<Uuid> {
    let rest = token.strip_prefix(PREFIX)?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() < 40 {
        return None;
    }
    Uuid::try_parse(tenant).ok()
}

/// A consumed token: whose it was and what was recorded with it.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub user_id: Uuid,
    pub details: serde_json::Value,
}

/// Consumes a token of `purpose` (inside its tenant's transaction): 400 `invalid_token` when it
/// is unknown, of another purpose, expired or already used.
pub async fn consume(
    tx: &Transaction<'_>,
    token: &str,
    purpose: Purpose,
) -> Result<Consumed, Error> {
    let row = tx
        .query_opt(
            "UPDATE auth.one_time_tokens SET used_at = now()
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
             RETURNING user_id, details",
            &[&token_hash(token), &purpose.as_str()],
        )
        .await?;
    match row {
        Some(row) => Ok(Consumed {
            user_id: row.get(0),
            details: row.get(1),
        }),
        None => Err(Error::bad_request(
            "invalid_token",
            "The link or code is invalid, expired or already used.",
        )),
    }
}
