//! TOTP second factor and recovery codes, as `confirm-totp` and `verify-mfa` check them.
//!
//! Every Olympus TOTP is RFC 6238 with SHA-1, 6 digits and 30-second steps, accepting ±1 step of
//! clock skew. Recovery codes are `xxxxx-xxxxx` over an alphabet without look-alike symbols;
//! only the SHA-256 of their normalized form ([`recovery_hash`]) is stored.

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Characters of a recovery code (without the dash).
pub const RECOVERY_CODE_CHARS: usize = 10;
/// No 0/o, 1/l/i: codes are read off paper and typed by hand (31 symbols, ~49.5 bits a code).
pub const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// The RFC 6238 parameters of every Olympus TOTP, over `secret`.
pub fn totp(secret: Vec<u8>) -> Result<totp_rs::Totp, Error> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The time step `code` matches at `now` (±1 step), when it is six digits (surrounding
/// whitespace ignored) and matches.
pub fn matching_step(secret: Vec<u8>, code: &str, now: u64) -> Result<Option<u64>, Error> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret)?.check(code, now))
}

/// A random recovery code, `xxxxx-xxxxx`.
pub fn recovery_code() -> Result<String, Error> {
    let alphabet = RECOVERY_ALPHABET;
    let mut code = String::with_capacity(RECOVERY_CODE_CHARS + 1);
    let mut buf = [0u8; 32];
    while code.len() < RECOVERY_CODE_CHARS + 1 {
        aws_lc_rs::rand::fill(&mut buf)
            .map_err(|_| Error::internal(std::io::Error::other("no randomness")))?;
        // Rejection sampling: bytes >= 248 (8 × 31) would bias the first symbols.
        for &byte in buf.iter().filter(|&&b| usize::from(b) < alphabet.len() * 8) {
            if code.len() == RECOVERY_CODE_CHARS / 2 {
                code.push('-');
            }
            if code.len() == RECOVERY_CODE_CHARS + 1 {
                break;
            }
            code.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
        }
    }
    Ok(code)
}

/// A recovery code as typed, reduced to its symbols: lowercase, without whitespace or dashes
/// (so `ABCDE FGHJK` is `abcde-fghjk`).
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// What is stored for a recovery code: SHA-256 of its [normalized](normalize_recovery_code)
/// form.
pub fn recovery_hash(code: &str) -> Vec<u8> {
    Sha256::digest(normalize_recovery_code(code).as_bytes()).to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_have_the_shape_and_normalize() {
        for _ in 0..50 {
            let code = recovery_code().unwrap();
            assert_eq!(code.len(), 11, "{code}");
            assert_eq!(&code[5..6], "-");
            assert!(
                code.bytes()
                    .filter(|&b| b != b'-')
                    .all(|b| RECOVERY_ALPHABET.contains(&b)),
                "{code}"
            );
        }
        assert_ne!(recovery_code().unwrap(), recovery_code().unwrap());
        assert_eq!(normalize_recovery_code(" ABCDE FGHJK "), "abcdefghjk");
        assert_eq!(recovery_hash("abcde-fghjk"), recovery_hash(" ABCDE FGHJK "));
        assert_eq!(recovery_hash("abcde-fghjk"), recovery_hash("ABCDE FGHJK"));
        assert_ne!(recovery_hash("abcde-fghjk"), recovery_hash("abcde-fghjm"));
        assert_eq!(recovery_hash("abcde-fghjk").len(), 32);
    }

    #[test]
    fn codes_match_within_one_step_only() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) → 287082 (6 digits).
        let secret = b"12345678901234567890".to_vec();
        assert_eq!(
            matching_step(secret.clone(), "287082", 59).unwrap(),
            Some(1)
        );
        assert_eq!(matching_step(secret.clone(), "287082", 0).unwrap(), Some(1));
        assert_eq!(
            matching_step(secret.clone(), " 287082 ", 89).unwrap(),
            Some(1)
        );
        assert_eq!(matching_step(secret.clone(), "287082", 120).unwrap(), None);
        assert_eq!(matching_step(secret.clone(), "287082", 150).unwrap(), None);
        assert_eq!(matching_step(secret.clone(), "28708", 59).unwrap(), None);
        assert_eq!(matching_step(secret.clone(), "2870820", 59).unwrap(), None);
        assert_eq!(matching_step(secret.clone(), "+87082", 59).unwrap(), None);
        assert_eq!(matching_step(secret, "abcdef", 59).unwrap(), None);
    }
}
