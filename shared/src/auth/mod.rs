//! Authentication, verification side: access-token verification against a JWKS, the
//! [`Principal`] of a request and its permission checks, and the axum extractors.
//!
//! Issuing tokens lives with the auth functions; this module only reads them, so every function
//! checks authentication and permission itself and nothing trusts a gateway.
//!
//! ```ignore
//! async fn handler(principal: Principal) -> Result<Json<Order>, Error> {
//!     principal.require("orders:read")?;
//!     // every query runs in a transaction scoped to principal.tenant_id
//! }
//! ```

pub mod api_keys;
mod claims;
mod extract;
pub mod lockout;
pub mod one_time;
mod operator;
pub mod password;
mod principal;
pub mod roles;
pub mod session;
mod signer;
pub mod totp;
mod verifier;

pub use claims::AccessClaims;
pub use extract::{principal_from_headers, principal_from_request};
pub use operator::{OPERATE, require_operator};
pub use principal::Principal;
pub use signer::{ACCESS_TOKEN_SECONDS, SIGNING_KEY_SECRET, Signer};
pub use verifier::{LEEWAY_SECONDS, MAX_TOKEN_BYTES, Verifier};

/// The stable `code`s of authentication and authorization problems. Clients may branch on them
/// (e.g. refresh on `token_expired`, sign in again on the others).
pub mod codes {
    /// 401: no `Authorization` header on an endpoint that needs one.
    pub const MISSING_TOKEN: &str = "missing_token";
    /// 401: not `Bearer`, not a well-formed JWS, `alg` `none`/HMAC/other, no `kid`, header
    /// algorithm different from the key's, unknown critical header.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// 401: the `kid` is not in the key set (or no keys are configured).
    pub const UNKNOWN_KEY: &str = "unknown_key";
    /// 401: the signature does not verify with the named key.
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
    /// 401: `exp` is past (beyond the leeway).
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// 401: `nbf` is in the future (beyond the leeway).
    pub const TOKEN_NOT_YET_VALID: &str = "token_not_yet_valid";
    /// 401: `iss` missing or not the configured issuer.
    pub const INVALID_ISSUER: &str = "invalid_issuer";
    /// 401: `aud` missing or not the configured audience.
    pub const INVALID_AUDIENCE: &str = "invalid_audience";
    /// 401: `exp` missing, or the claims do not have the Olympus shape (`tid`, `sub`, `locs`...).
    pub const INVALID_CLAIMS: &str = "invalid_claims";
    /// 403: the principal lacks a permission (extension member `permission`).
    pub const PERMISSION_DENIED: &str = "permission_denied";
    /// 403: the principal may not act on a location (extension member `location_id`).
    pub const LOCATION_DENIED: &str = "location_denied";
}

#[cfg(all(test, feature = "testing"))]
mod tests;
