//! Access-token verification against a JWKS.
//!
//! Only asymmetric ES256 (P-256) and EdDSA (Ed25519) keys are accepted, each identified by its
//! `kid`; every key in the set verifies, which is how rotation works (publish the new key next to
//! the old one, switch the issuer, drop the old key once its last token has expired).
//!
//! The token header is read by hand before `jsonwebtoken` sees it, so `alg: none`, HMAC
//! algorithms (the classic "HS256 signed with the public key" confusion), missing or unknown
//! `kid`s and header/key algorithm mismatches are refused with a precise problem code before any
//! signature check. Signature, `exp`, `nbf`, `iss` and `aud` are then checked by `jsonwebtoken`
//! with the algorithm pinned to the key's own.
//!
//! A token that verified is remembered (by its exact bytes, until its `exp` plus leeway) so the
//! next request carrying it skips the signature check, the largest CPU cost of a small read; a
//! one-byte difference is another key and goes through every check. Each verifier, and so each
//! key set, has its own memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Config, ConfigError};
use crate::error::Error;

use super::{AccessClaims, Principal, codes};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// Longest token accepted: a cheap guard before any base64 or JSON work, generous enough for a
/// few hundred permission strings or location ids.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verified tokens remembered per verifier, counted in bytes (a typical token is 400-800).
const VERIFIED_CACHE_BYTES: u64 = 4 * 1024 * 1024;
/// Longer tokens are verified every time rather than crowding the memory.
const MAX_CACHED_TOKEN_BYTES: usize = 4 * 1024;

/// Members that only private (or symmetric) JWKs carry. A verification key set must never hold
/// them: if it does, a secret is sitting in an environment variable and we refuse to start.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Verifies Olympus access tokens. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: HashMap<String, VerifyingKey>,
    issuer: String,
    audience: String,
    es256: Validation,
    eddsa: Validation,
    verified: Cache<String, Arc<AccessClaims>, TokenBytes>,
}

/// Weighs a remembered token by its length plus the claims' usual size.
#[derive(Clone)]
struct TokenBytes;

impl Weighter<String, Arc<AccessClaims>> for TokenBytes {
    fn weight(&self, token: &String, _: &Arc<AccessClaims>) -> u64 {
        token.len() as u64 + 512
    }
}

struct VerifyingKey {
    alg: Algorithm,
    key: DecodingKey,
}

impl fmt::Debug for Verifier {
    /// Names the key ids, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl Default for Verifier {
    /// A verifier without keys: every token is refused with 401 `unknown_key`.
    fn default() -> Self {
        Self::from_parts(HashMap::new(), String::new(), String::new())
    }
}

impl Verifier {
    /// From `AUTH_JWKS`, `AUTH_ISSUER` and `AUTH_AUDIENCE`. Without `AUTH_JWKS` the verifier has
    /// no keys and refuses every token (401), so a function deployed without keys fails closed.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        match config.auth_jwks.as_deref() {
            Some(json) => Self::from_jwks_json(json, &config.auth_issuer, &config.auth_audience),
            None => {
                check_claim_setting("AUTH_ISSUER", &config.auth_issuer)?;
                check_claim_setting("AUTH_AUDIENCE", &config.auth_audience)?;
                Ok(Self::without_keys(
                    config.auth_issuer.clone(),
                    config.auth_audience.clone(),
                ))
            }
        }
    }

    /// From a JWKS JSON document (the `AUTH_JWKS` format). Besides what [`Verifier::new`]
    /// checks, this refuses documents containing private or symmetric key members.
    pub fn from_jwks_json(
        json: &str,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        Self::new(parse_jwks(json)?, issuer, audience)
    }

    /// From a parsed key set. Every key must be an ES256 (P-256) or EdDSA (Ed25519) signing key
    /// with a unique `kid`; a key without `alg` gets the one its curve implies.
    pub fn new(
        jwks: JwkSet,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let issuer = issuer.into();
        let audience = audience.into();
        check_claim_setting("AUTH_ISSUER", &issuer)?;
        check_claim_setting("AUTH_AUDIENCE", &audience)?;
        if jwks.keys.is_empty() {
            return Err(jwks_error(
                "the key set is empty; unset AUTH_JWKS to run without verification keys",
            ));
        }
        let mut keys = HashMap::with_capacity(jwks.keys.len());
        for (index, jwk) in jwks.keys.into_iter().enumerate() {
            let (kid, key) = verifying_key(index, &jwk)?;
            if keys.insert(kid.clone(), key).is_some() {
                return Err(jwks_error(&format!("kid {kid:?} appears more than once")));
            }
        }
        Ok(Self::from_parts(keys, issuer, audience))
    }

    /// A verifier that refuses every token with 401 `unknown_key`.
    pub fn without_keys(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self::from_parts(HashMap::new(), issuer.into(), audience.into())
    }

    fn from_parts(keys: HashMap<String, VerifyingKey>, issuer: String, audience: String) -> Self {
        let es256 = validation(Algorithm::ES256, &issuer, &audience);
        let eddsa = validation(Algorithm::EdDSA, &issuer, &audience);
        Self {
            inner: Arc::new(Inner {
                keys,
                issuer,
                audience,
                es256,
                eddsa,
                verified: Cache::with_weighter(
                    usize::try_from(VERIFIED_CACHE_BYTES / 1024).unwrap_or(4096),
                    VERIFIED_CACHE_BYTES,
                    TokenBytes,
                ),
            }),
        }
    }

    /// The expected `iss`.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The expected `aud`.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Whether any key is configured (a verifier without keys refuses everything).
    pub fn has_keys(&self) -> bool {
        !self.inner.keys.is_empty()
    }

    /// The configured key ids, sorted (for logs and health output; not secret).
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.inner.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Verifies an access token and returns who it speaks for. Every failure is a 401 with one of
    /// the codes in [`super::codes`]; only the first failing check is reported.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        self.verify_claims(token).map(Principal::from)
    }

    /// Like [`verify`](Self::verify) but returns the full claims (`jti`, `exp`, ...), for
    /// handlers such as logout that need more than the [`Principal`].
    pub fn verify_claims(&self, token: &str) -> Result<AccessClaims, Error> {
        self.check(token).inspect_err(|err| {
            // The code only: never the token, whose signature is a bearer credential.
            tracing::debug!(code = err.code(), "access token rejected");
        })
    }

    fn check(&self, token: &str) -> Result<AccessClaims, Error> {
        let verified = &self.inner.verified;
        if let Some(claims) = verified.get(token) {
            // The signature, `iss`, `aud` and `nbf` held when it was remembered and cannot
            // change; only expiry moves, checked as `jsonwebtoken` does (`exp` + leeway).
            let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
            let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
            if claims.exp.saturating_add(leeway) >= now {
                return Ok(AccessClaims::clone(&claims));
            }
            verified.remove(token);
        }
        let claims = self.check_signed(token)?;
        if token.len() <= MAX_CACHED_TOKEN_BYTES {
            verified.insert(token.to_owned(), Arc::new(claims.clone()));
        }
        Ok(claims)
    }

    fn check_signed(&self, token: &str) -> Result<AccessClaims, Error> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(rejected(codes::INVALID_TOKEN, "The token is too long."));
        }
        let header = RawHeader::parse(token)?;
        let alg = accepted_algorithm(&header.alg)?;
        if header.crit.is_some() {
            return Err(rejected(
                codes::INVALID_TOKEN,
                "The token header has critical extensions this service does not understand.",
            ));
        }
        let Some(kid) = header.kid.as_deref() else {
            return Err(rejected(
                codes::INVALID_TOKEN,
                "The token header has no `kid`.",
            ));
        };
        let Some(key) = self.inner.keys.get(kid) else {
            return Err(rejected(
                codes::UNKNOWN_KEY,
                "The token was signed with a key this service does not know.",
            ));
        };
        if key.alg != alg {
            return Err(rejected(
                codes::INVALID_TOKEN,
                "The token's algorithm does not match its signing key.",
            ));
        }
        let validation = match key.alg {
            Algorithm::EdDSA => &self.inner.eddsa,
            _ => &self.inner.es256,
        };
        let data = jsonwebtoken::decode::<Value>(token, &key.key, validation)
            .map_err(|err| map_jwt_error(err.kind()))?;
        let claims: AccessClaims = serde_json::from_value(data.claims).map_err(|err| {
            // The serde message names the offending claim of the caller's own token; no key
            // material can appear in it.
            rejected(
                codes::INVALID_CLAIMS,
                format!("The token's claims are malformed: {err}."),
            )
        })?;
        // Already enforced by `jsonwebtoken`; repeated on the typed claims as a cheap second lock.
        if claims.iss != self.inner.issuer {
            return Err(rejected(codes::INVALID_ISSUER, ISSUER_DETAIL));
        }
        if claims.aud != self.inner.audience {
            return Err(rejected(codes::INVALID_AUDIENCE, AUDIENCE_DETAIL));
        }
        Ok(claims)
    }
}

const ISSUER_DETAIL: &str = "The token was not issued by the expected issuer.";
const AUDIENCE_DETAIL: &str = "The token is not meant for this audience.";

fn rejected(code: &'static str, detail: impl Into<String>) -> Error {
    Error::unauthorized(code, detail)
}

/// The fixed validation for one algorithm: `exp`, `iss` and `aud` required, `nbf` checked when
/// present, 30 s leeway.
fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

/// Maps a `jsonwebtoken` failure (after our own header checks) to a problem code.
fn map_jwt_error(kind: &ErrorKind) -> Error {
    match kind {
        ErrorKind::InvalidSignature => rejected(
            codes::INVALID_SIGNATURE,
            "The token's signature is not valid.",
        ),
        ErrorKind::ExpiredSignature => rejected(codes::TOKEN_EXPIRED, "The token has expired."),
        ErrorKind::ImmatureSignature => {
            rejected(codes::TOKEN_NOT_YET_VALID, "The token is not valid yet.")
        }
        ErrorKind::InvalidIssuer => rejected(codes::INVALID_ISSUER, ISSUER_DETAIL),
        ErrorKind::InvalidAudience => rejected(codes::INVALID_AUDIENCE, AUDIENCE_DETAIL),
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => rejected(codes::INVALID_ISSUER, "The token has no `iss` claim."),
            "aud" => rejected(codes::INVALID_AUDIENCE, "The token has no `aud` claim."),
            _ => rejected(
                codes::INVALID_CLAIMS,
                format!("The token has no `{claim}` claim."),
            ),
        },
        ErrorKind::InvalidClaimFormat(claim) => rejected(
            codes::INVALID_CLAIMS,
            format!("The token's `{claim}` claim is malformed."),
        ),
        // Base64, JSON, UTF-8, shape and algorithm errors: the token is not a well-formed JWS.
        _ => rejected(codes::INVALID_TOKEN, "The token is malformed."),
    }
}

/// The header members we decide on before handing the token to `jsonwebtoken`.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

impl RawHeader {
    fn parse(token: &str) -> Result<Self, Error> {
        let malformed = || rejected(codes::INVALID_TOKEN, "The token is malformed.");
        let mut parts = token.split('.');
        let (Some(header), Some(_payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
        serde_json::from_slice(&bytes).map_err(|_| malformed())
    }
}

/// The header `alg`, if it is one we accept; explains the refusal otherwise.
fn accepted_algorithm(alg: &str) -> Result<Algorithm, Error> {
    match alg {
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        a if a.eq_ignore_ascii_case("none") => Err(rejected(
            codes::INVALID_TOKEN,
            "Unsigned tokens (alg `none`) are not accepted.",
        )),
        a if a.len() >= 2 && a[..2].eq_ignore_ascii_case("HS") => Err(rejected(
            codes::INVALID_TOKEN,
            "Symmetric (HMAC) token algorithms are not accepted.",
        )),
        // The client's own value is not echoed: it could be arbitrarily long.
        _ => Err(rejected(
            codes::INVALID_TOKEN,
            "The token's algorithm is not accepted (ES256 or EdDSA expected).",
        )),
    }
}

fn check_claim_setting(var: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::Invalid {
            var: var.to_owned(),
            value: value.to_owned(),
            problem: "must not be empty".to_owned(),
        });
    }
    Ok(())
}

/// An `AUTH_JWKS` problem. The value is always the placeholder `<jwks>`: the document is never
/// echoed, so even a misplaced private key cannot end up in a log line.
fn jwks_error(problem: &str) -> ConfigError {
    ConfigError::Invalid {
        var: "AUTH_JWKS".to_owned(),
        value: "<jwks>".to_owned(),
        problem: problem.to_owned(),
    }
}

/// Names a JWKS entry in errors: its position, and its `kid` when it has one (not secret).
fn entry_name(index: usize, kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!("key #{} (kid {kid:?})", index + 1),
        None => format!("key #{}", index + 1),
    }
}

/// Parses `AUTH_JWKS`, refusing private and symmetric members before the typed parse drops them.
/// serde messages are not passed on because some echo the offending value.
fn parse_jwks(json: &str) -> Result<JwkSet, ConfigError> {
    let document: Value = serde_json::from_str(json).map_err(|err| {
        jwks_error(&format!(
            "not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        ))
    })?;
    let Some(entries) = document.get("keys").and_then(Value::as_array) else {
        return Err(jwks_error(
            r#"not a JWKS document: expected {"keys": [...]}"#,
        ));
    };
    let mut keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let Some(object) = entry.as_object() else {
            return Err(jwks_error(&format!(
                "{} is not a JSON object",
                entry_name(index, None)
            )));
        };
        let name = entry_name(index, object.get("kid").and_then(Value::as_str));
        if object.get("kty").and_then(Value::as_str) == Some("oct") {
            return Err(jwks_error(&format!(
                "{name} is a symmetric key (kty oct); only ES256 and EdDSA public keys are accepted"
            )));
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
            return Err(jwks_error(&format!(
                "{name} contains private key material (`{member}`); AUTH_JWKS must hold public keys only"
            )));
        }
        let jwk: Jwk = serde_json::from_value(entry.clone())
            .map_err(|_| jwks_error(&format!("{name} is not a valid JWK")))?;
        keys.push(jwk);
    }
    Ok(JwkSet { keys })
}

/// Checks one JWK and turns it into a verifying key.
fn verifying_key(index: usize, jwk: &Jwk) -> Result<(String, VerifyingKey), ConfigError> {
    let kid = jwk
        .common
        .key_id
        .as_deref()
        .filter(|kid| !kid.trim().is_empty());
    let name = entry_name(index, kid);
    let Some(kid) = kid else {
        return Err(jwks_error(&format!(
            "{name} has no `kid`; every key needs one so tokens can name it"
        )));
    };
    let fail = |problem: &str| jwks_error(&format!("{name} {problem}"));
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err(fail("is not a signing key (`use` must be `sig`)")),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err(fail("does not allow `verify` in `key_ops`"));
    }
    // The algorithm the key material implies, and its public key bytes in aws-lc-rs form.
    let (implied, public_key) = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            let x = decode_coordinate(&ec.x);
            let y = decode_coordinate(&ec.y);
            let (Some(x), Some(y)) = (x, y) else {
                return Err(fail(
                    "has malformed `x`/`y` coordinates (32 base64url bytes each)",
                ));
            };
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (Algorithm::ES256, point)
        }
        AlgorithmParameters::EllipticCurve(_) => {
            return Err(fail(
                "uses a curve other than P-256; only ES256 (P-256) and EdDSA are accepted",
            ));
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            let Some(x) = decode_coordinate(&okp.x) else {
                return Err(fail("has a malformed `x` (32 base64url bytes)"));
            };
            (Algorithm::EdDSA, x)
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(fail(
                "is a symmetric key (kty oct); only ES256 and EdDSA public keys are accepted",
            ));
        }
        AlgorithmParameters::RSA(_) => {
            return Err(fail(
                "is an RSA key; only ES256 and EdDSA public keys are accepted",
            ));
        }
        _ => {
            return Err(fail(
                "has an unsupported key type; only EC P-256 and OKP Ed25519 are accepted",
            ));
        }
    };
    match jwk.common.key_algorithm {
        None => {}
        Some(KeyAlgorithm::ES256) if implied == Algorithm::ES256 => {}
        Some(KeyAlgorithm::EdDSA) if implied == Algorithm::EdDSA => {}
        Some(KeyAlgorithm::ES256 | KeyAlgorithm::EdDSA) => {
            return Err(fail("has an `alg` that does not match its key type"));
        }
        Some(_) => return Err(fail("has an `alg` other than ES256 or EdDSA")),
    }
    // Parse once now so a bad point fails at start-up, not on the first request.
    let verification: &'static ParsedAlgorithm = match implied {
        Algorithm::EdDSA => &ED25519,
        _ => &ECDSA_P256_SHA256_FIXED,
    };
    if ParsedPublicKey::new(verification, &public_key).is_err() {
        return Err(fail("is not a valid public key for its curve"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| fail("could not be loaded"))?;
    Ok((kid.to_owned(), VerifyingKey { alg: implied, key }))
}

type ParsedAlgorithm = dyn aws_lc_rs::signature::VerificationAlgorithm;

/// A 32-byte base64url value (P-256 coordinate or Ed25519 public key).
fn decode_coordinate(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .filter(|bytes| bytes.len() == 32)
}
