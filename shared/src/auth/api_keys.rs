//! API keys: `olk_<prefix>_<secret>`, for integrations and machines.
//!
//! The prefix (12 characters of lowercase RFC 4648 base32) is not secret: it names the key, is
//! shown in listings and finds the tenant (`auth.api_key_directory`, outside RLS) before any
//! tenant context exists. The secret (32 random bytes, base64url) is shown once, at creation;
//! only its SHA-256 is stored (`auth.api_keys.secret_hash`) and compared in constant time.
//!
//! A verified key becomes a [`Principal`] with `user_id` = the key id, no session, the single
//! role [`API_KEY_ROLE`], the key's scopes as permissions and its locations. Unknown, revoked,
//! expired or tampered keys are all 401 [`INVALID_API_KEY`], alike.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Principal;
use super::session::random_secret;
use crate::audit::Actor;
use crate::db;
use crate::db::Prepared as _;
use crate::error::Error;
use crate::state::AppState;

pub use super::extract::principal_from_request;

/// Every API key starts with this.
pub const KEY_PREFIX: &str = "olk_";
/// Length of the public prefix part.
pub const PREFIX_LEN: usize = 12;
/// Length of the secret part: 32 bytes, base64url without padding.
pub const SECRET_LEN: usize = 43;
/// The one role of a principal authenticated by an API key (reserved as a role name).
pub const API_KEY_ROLE: &str = "api_key";
/// 401: the API key is malformed, unknown, revoked, expired or its secret is wrong.
pub const INVALID_API_KEY: &str = "invalid_api_key";
/// `last_used_at` is written at most once per this many seconds per key.
pub const LAST_USED_RESOLUTION_SECONDS: f64 = 60.0;

/// RFC 4648 base32 alphabet, lowercase: no `_`, so the prefix never contains the separator.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A freshly generated key: `key` is shown once to its creator and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub key: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Generates a new key (prefix, secret, and the hash to store).
pub fn generate() -> Result<NewKey, Error> {
    let mut bytes = [0u8; PREFIX_LEN];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::internal(std::io::Error::other("no randomness")))?;
    let prefix: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    let secret = random_secret()?;
    Ok(NewKey {
        key: format!("{KEY_PREFIX}{prefix}_{secret}"),
        secret_hash: secret_hash(&secret),
        prefix,
    })
}

/// SHA-256 of the secret part: what is stored and compared.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `token` is meant as an API key (starts with `olk_`), well formed or not.
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(KEY_PREFIX)
}

/// The (prefix, secret) of a well-formed key.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (prefix, secret) = rest.split_once('_')?;
    let prefix_ok = prefix.len() == PREFIX_LEN && prefix.bytes().all(|b| ALPHABET.contains(&b));
    let secret_ok = secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some((prefix, secret))
}

/// The one answer to every key that does not authenticate.
pub fn invalid_api_key() -> Error {
    Error::unauthorized(
        INVALID_API_KEY,
        "The API key is unknown, revoked, expired or malformed.",
    )
}

/// Whether `principal` was authenticated by an API key.
pub fn is_api_key(principal: &Principal) -> bool {
    principal.session_id.is_none()
        && principal.roles.len() == 1
        && principal.roles[0] == API_KEY_ROLE
}

/// The audit actor of `principal`: the key for API-key principals, else the user.
pub fn actor(principal: &Principal) -> Actor {
    if is_api_key(principal) {
        Actor::ApiKey(principal.user_id)
    } else {
        Actor::User(principal.user_id)
    }
}

/// Verifies an `olk_` key against the database and builds its principal.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Principal, Error> {
    let (prefix, secret) = parse(key).ok_or_else(invalid_api_key)?;
    let mut conn = state.db()?.get().await?;
    // The directory holds prefix -> tenant only and is outside RLS by design.
    let tenant: Uuid = conn
        .query_opt_cached(
            "SELECT tenant_id FROM auth.api_key_directory WHERE prefix = $1",
            &[&prefix],
        )
        .await?
        .map(|row| row.get(0))
        .ok_or_else(invalid_api_key)?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let row = tx
        .query_opt_cached(
            "SELECT id, secret_hash, scopes, location_ids,
                    revoked_at IS NOT NULL OR coalesce(expires_at <= now(), false) AS unusable
             FROM auth.api_keys WHERE prefix = $1",
            &[&prefix],
        )
        .await?
        .ok_or_else(invalid_api_key)?;
    let stored: Vec<u8> = row.get("secret_hash");
    if verify_slices_are_equal(&stored, &secret_hash(secret)).is_err()
        || row.get::<_, bool>("unusable")
    {
        return Err(invalid_api_key());
    }
    let id: Uuid = row.get("id");
    // At most one write per key and minute, however busy the key is.
    tx.execute_cached(
        "UPDATE auth.api_keys SET last_used_at = now()
         WHERE id = $1
           AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))",
        &[&id, &LAST_USED_RESOLUTION_SECONDS],
    )
    .await?;
    tx.commit().await?;
    Ok(Principal {
        tenant_id: tenant,
        user_id: id,
        session_id: None,
        roles: vec![API_KEY_ROLE.to_owned()],
        permissions: row.get("scopes"),
        locations: row.get("location_ids"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_hash_their_secret() {
        for _ in 0..50 {
            let new = generate().unwrap();
            assert!(new.key.starts_with("olk_"));
            let (prefix, secret) = parse(&new.key).unwrap();
            assert_eq!(prefix, new.prefix);
            assert_eq!(secret_hash(secret), new.secret_hash);
            assert!(!format!("{new:?}").contains(secret));
        }
        assert_ne!(generate().unwrap().key, generate().unwrap().key);
    }

    #[test]
    fn malformed_keys_are_refused() {
        let key = generate().unwrap().key;
        assert!(parse(&key[..key.len() - 1]).is_none());
        assert!(parse(&format!("{key}x")).is_none());
        assert!(parse(&key.replacen("olk_", "olx_", 1)).is_none());
        assert!(parse(&key.to_uppercase()).is_none());
        assert!(parse("olk_").is_none());
        assert!(parse("olk_abcdefghijkl").is_none());
        assert!(parse(&format!("olk_abcdefghijk1_{}", "a".repeat(43))).is_none());
        assert!(parse(&format!("olk_abcdefghijkl_{}", "a".repeat(43))).is_some());
        assert!(looks_like_key("olk_nonsense"));
        assert!(!looks_like_key("eyJhbGciOi"));
    }

    #[test]
    fn only_key_principals_are_key_actors() {
        let mut principal = Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: vec![API_KEY_ROLE.to_owned()],
            permissions: Vec::new(),
            locations: None,
        };
        assert_eq!(actor(&principal), Actor::ApiKey(principal.user_id));
        principal.session_id = Some(Uuid::now_v7());
        assert_eq!(actor(&principal), Actor::User(principal.user_id));
    }
}
