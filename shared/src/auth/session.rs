//! Sessions and refresh tokens: the issuing side shared by sign-up, login, MFA, PIN login and
//! refresh.
//!
//! A refresh token is opaque: `ort_<tenant id>_<32 random bytes, base64url>`. The tenant part
//! is not secret; it lets the refresh endpoint open a transaction scoped to the right tenant
//! before it looks the token up (by SHA-256 hash: the token itself is never stored). Each use
//! rotates it; presenting a rotated token again after a short grace interval is reuse, which
//! revokes the whole session (the token family).

use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Signer;
use super::signer::ACCESS_TOKEN_SECONDS;
use crate::db::Transaction;
use crate::error::Error;
use crate::http::ClientInfo;

/// Refresh tokens (and so sessions) live 30 days from their last rotation.
pub const REFRESH_TOKEN_DAYS: i64 = 30;
/// A rotated token presented again within this interval is a client retrying, not a thief.
pub const REUSE_GRACE: Duration = Duration::from_secs(10);

const PREFIX: &str = "ort_";

/// What a successful sign-in or refresh returns.
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub session_id: Uuid,
}

/// The effective grants of a user: the union over its role grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// `None` when any grant covers every location.
    pub locations: Option<Vec<Uuid>>,
}

/// Loads the roles, permissions and locations of `user` (inside its tenant's transaction).
pub async fn load_grants(tx: &Transaction<'_>, user: Uuid) -> Result<Grants, Error> {
    let rows = tx
        .query(
            "SELECT r.name, r.permissions, g.location_ids
             FROM auth.role_grants g JOIN auth.roles r ON r.id = g.role_id
             WHERE g.user_id = $1 ORDER BY r.name",
            &[&user],
        )
        .await?;
    let mut grants = Grants::default();
    let mut everywhere = false;
    let mut locations = Vec::new();
    for row in rows {
        grants.roles.push(row.get(0));
        let permissions: Vec<String> = row.get(1);
        grants.permissions.extend(permissions);
        match row.get::<_, Option<Vec<Uuid>>>(2) {
            None => everywhere = true,
            Some(ids) => locations.extend(ids),
        }
    }
    grants.permissions.sort();
    grants.permissions.dedup();
    locations.sort();
    locations.dedup();
    grants.locations = if everywhere { None } else { Some(locations) };
    Ok(grants)
}

/// 32 random bytes, base64url: the secret part of every opaque token.
pub fn random_secret() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::internal(std::io::Error::other("no randomness")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token: what is stored and looked up.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new refresh token for `tenant`.
pub fn new_refresh_token(tenant: Uuid) -> Result<String, Error> {
    Ok(format!("{PREFIX}{}_{}", tenant.simple(), random_secret()?))
}

/// The tenant a refresh token belongs to, when it has the right shape.
pub fn refresh_token_tenant(token: &str) -> Option<Uuid> {
    let rest = token.strip_prefix(PREFIX)?;
    let (tenant, secret) = rest.split_once('_')?;
    if secret.len() < 40 {
        return None;
    }
    Uuid::try_parse(tenant).ok()
}

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    Mfa,
    Pin,
    Signup,
    Invite,
    Reset,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Mfa => "mfa",
            Self::Pin => "pin",
            Self::Signup => "signup",
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }
}

/// Opens a session for `user` and issues its first tokens (inside the tenant's transaction).
pub async fn start(
    tx: &Transaction<'_>,
    signer: &Signer,
    tenant: Uuid,
    user: Uuid,
    method: Method,
    device: Option<&str>,
    client: &ClientInfo,
) -> Result<Tokens, Error> {
    let session = Uuid::now_v7();
    tx.execute(
        "INSERT INTO auth.sessions (id, tenant_id, user_id, method, device, ip, user_agent, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8))",
        &[
            &session,
            &tenant,
            &user,
            &method.as_str(),
            &device,
            &client.ip,
            &client.user_agent,
            &(REFRESH_TOKEN_DAYS as i32),
        ],
    )
    .await?;
    issue(tx, signer, tenant, user, session).await
}

/// Issues an access token and a new refresh token for an open session.
async fn issue(
    tx: &Transaction<'_>,
    signer: &Signer,
    tenant: Uuid,
    user: Uuid,
    session: Uuid,
) -> Result<Tokens, Error> {
    let grants = load_grants(tx, user).await?;
    let refresh_token = new_refresh_token(tenant)?;
    tx.execute(
        "INSERT INTO auth.refresh_tokens (token_hash, tenant_id, session_id, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(days => $4))",
        &[
            &token_hash(&refresh_token),
            &tenant,
            &session,
            &(REFRESH_TOKEN_DAYS as i32),
        ],
    )
    .await?;
    let claims = signer.claims(
        tenant,
        user,
        Some(session),
        grants.roles,
        grants.permissions,
        grants.locations,
    );
    Ok(Tokens {
        access_token: signer.sign(&claims)?,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        refresh_token,
        session_id: session,
    })
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Refresh {
    /// Rotated: the new tokens.
    Rotated(Tokens),
    /// A rotated token came back after the grace interval: the session is now revoked. The
    /// caller commits (so the revocation sticks), records the security event, answers 401.
    ReuseDetected { session: Uuid, user: Uuid },
}

fn invalid_refresh() -> Error {
    Error::unauthorized(
        "invalid_refresh_token",
        "The refresh token is unknown, expired or revoked; sign in again.",
    )
}

/// Exchanges a refresh token (inside the tenant's transaction).
pub async fn refresh(tx: &Transaction<'_>, signer: &Signer, token: &str) -> Result<Refresh, Error> {
    let row = tx
        .query_opt(
            "SELECT t.session_id, s.user_id, t.expires_at <= now() AS expired,
                    t.rotated_at, t.rotated_at > now() - make_interval(secs => $2) AS in_grace,
                    s.revoked_at IS NOT NULL OR s.expires_at <= now() AS session_closed,
                    u.status
             FROM auth.refresh_tokens t
             JOIN auth.sessions s ON s.id = t.session_id
             JOIN auth.users u ON u.id = s.user_id
             WHERE t.token_hash = $1
             FOR UPDATE OF t, s",
            &[&token_hash(token), &REUSE_GRACE.as_secs_f64()],
        )
        .await?;
    let Some(row) = row else {
        return Err(invalid_refresh());
    };
    let session: Uuid = row.get("session_id");
    let user: Uuid = row.get("user_id");
    let status: String = row.get("status");
    if row.get::<_, bool>("expired") || row.get::<_, bool>("session_closed") || status != "active" {
        return Err(invalid_refresh());
    }
    let rotated: Option<chrono::DateTime<chrono::Utc>> = row.get("rotated_at");
    if rotated.is_some() && row.get::<_, Option<bool>>("in_grace") != Some(true) {
        revoke_session(tx, session, "refresh_token_reuse").await?;
        return Ok(Refresh::ReuseDetected { session, user });
    }
    if rotated.is_none() {
        tx.execute(
            "UPDATE auth.refresh_tokens SET rotated_at = now() WHERE token_hash = $1",
            &[&token_hash(token)],
        )
        .await?;
    }
    tx.execute(
        "UPDATE auth.sessions SET last_used_at = now(),
                expires_at = now() + make_interval(days => $2)
         WHERE id = $1",
        &[&session, &(REFRESH_TOKEN_DAYS as i32)],
    )
    .await?;
    let tenant: Uuid = tx
        .query_one("SELECT platform.current_tenant_id()", &[])
        .await?
        .get(0);
    Ok(Refresh::Rotated(
        issue(tx, signer, tenant, user, session).await?,
    ))
}

/// Revokes one session and every refresh token of it.
pub async fn revoke_session(
    tx: &Transaction<'_>,
    session: Uuid,
    reason: &str,
) -> Result<bool, Error> {
    let revoked = tx
        .execute(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2
             WHERE id = $1 AND revoked_at IS NULL",
            &[&session, &reason],
        )
        .await?;
    tx.execute(
        "UPDATE auth.refresh_tokens SET expires_at = least(expires_at, now())
         WHERE session_id = $1",
        &[&session],
    )
    .await?;
    Ok(revoked > 0)
}

/// Revokes every open session of `user`, except `keep` (e.g. the one changing the password).
pub async fn revoke_user_sessions(
    tx: &Transaction<'_>,
    user: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<u64, Error> {
    let sessions: Vec<Uuid> = tx
        .query(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3
             WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
             RETURNING id",
            &[&user, &keep, &reason],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.execute(
        "UPDATE auth.refresh_tokens SET expires_at = least(expires_at, now())
         WHERE session_id = ANY($1)",
        &[&sessions],
    )
    .await?;
    Ok(sessions.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_their_tenant_and_enough_entropy() {
        let tenant = Uuid::now_v7();
        let token = new_refresh_token(tenant).unwrap();
        assert!(token.starts_with("ort_"));
        assert_eq!(refresh_token_tenant(&token), Some(tenant));
        assert_ne!(token, new_refresh_token(tenant).unwrap());
        assert_eq!(refresh_token_tenant("ort_nonsense_x"), None);
        assert_eq!(refresh_token_tenant("bearer"), None);
        assert_eq!(token_hash(&token).len(), 32);
    }
}
