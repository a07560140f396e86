//! Password and PIN hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), run
//! on the blocking pool so a login never stalls the async workers.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::Error;

/// OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password, verified against when the account does not exist, so an
/// unknown user costs the same time as a wrong password (no user enumeration by timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"no such account: equalizes timing", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Minimum and maximum lengths (NIST SP 800-63B: at least 8, allow at least 64).
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password's length; 422 `weak_password` otherwise.
pub fn validate_new_password(password: &str) -> Result<(), Error> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::unprocessable(
            "weak_password",
            format!("The password must have at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::unprocessable(
            "weak_password",
            format!("The password must have at most {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    Ok(())
}

/// Hashes a secret (password or PIN) as a PHC string.
pub async fn hash(secret: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))
    })
    .await
    .map_err(Error::internal)?
}

/// Verifies `secret` against `stored` (or against a dummy hash when there is none, taking the
/// same time). Returns false for a mismatch or an unparsable hash.
pub async fn verify(secret: String, stored: Option<String>) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let matches = argon2().verify_password(secret.as_bytes(), &parsed).is_ok();
        exists && matches
    })
    .await
    .map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let hash = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify("correct horse battery".to_owned(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".to_owned(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify("anything".to_owned(), None).await.unwrap());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(
            validate_new_password("short").unwrap_err().code(),
            "weak_password"
        );
        assert!(validate_new_password("long enough password").is_ok());
    }
}
