//! Signing keys and access tokens for tests and the dev runner.
//!
//! [`TestKeys`] is a real ES256 or EdDSA key pair generated with aws-lc-rs, so tests exercise the
//! same verification path as production. The dev runner uses it to give developers a local
//! signing key: [`TestKeys::pkcs8_der`] and [`TestKeys::from_pkcs8`] let it persist the key so
//! tokens survive a restart. Everything returns `Result`; nothing here panics.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::{AccessClaims, Verifier};
use crate::config::ConfigError;

/// Lifetime of the tokens [`claims`] describes.
pub const TEST_TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;

/// Why a key could not be made or a token signed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a {0:?} key pair")]
    Generate(Algorithm),
    #[error("the PKCS#8 document is not a valid {0:?} private key")]
    InvalidKey(Algorithm),
    #[error("{0:?} is not a signing algorithm Olympus accepts (ES256 or EdDSA)")]
    UnsupportedAlgorithm(Algorithm),
    #[error("could not sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A signing key pair with its key id. `Debug` shows the kid and algorithm only.
#[derive(Clone)]
pub struct TestKeys {
    kid: String,
    alg: Algorithm,
    pkcs8: Vec<u8>,
    encoding: EncodingKey,
    public: AlgorithmParameters,
}

impl fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKeys")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl TestKeys {
    /// A fresh ES256 (P-256) key pair.
    pub fn es256(kid: impl Into<String>) -> Result<Self, KeyError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generate(Algorithm::ES256))?;
        Self::from_pkcs8(kid, Algorithm::ES256, pkcs8.as_ref())
    }

    /// A fresh EdDSA (Ed25519) key pair.
    pub fn ed25519(kid: impl Into<String>) -> Result<Self, KeyError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError::Generate(Algorithm::EdDSA))?;
        Self::from_pkcs8(kid, Algorithm::EdDSA, pkcs8.as_ref())
    }

    /// A key pair from a PKCS#8 DER private key (as returned by [`pkcs8_der`](Self::pkcs8_der)).
    pub fn from_pkcs8(
        kid: impl Into<String>,
        alg: Algorithm,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        let (encoding, public) = match alg {
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| KeyError::InvalidKey(alg))?;
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                    return Err(KeyError::InvalidKey(alg));
                };
                let public = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                });
                (EncodingKey::from_ec_der(der), public)
            }
            Algorithm::EdDSA => {
                let pair =
                    Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::InvalidKey(alg))?;
                let public = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                });
                (EncodingKey::from_ed_der(der), public)
            }
            other => return Err(KeyError::UnsupportedAlgorithm(other)),
        };
        Ok(Self {
            kid: kid.into(),
            alg,
            pkcs8: der.to_vec(),
            encoding,
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The PRIVATE key as PKCS#8 DER, for the dev runner to persist a local key. Never log it.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public JWK: `kty`, curve and coordinates plus `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(match self.alg {
                    Algorithm::EdDSA => KeyAlgorithm::EdDSA,
                    _ => KeyAlgorithm::ES256,
                }),
                key_id: Some(self.kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: self.public.clone(),
        }
    }

    /// The header [`mint`](Self::mint) uses: this key's `alg` and `kid`, `typ: JWT`.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header
    }

    /// A signed access token carrying `claims`.
    pub fn mint(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        self.sign(&self.header(), claims)
    }

    /// Signs arbitrary claims under an arbitrary header (tests of malformed tokens: missing
    /// `kid`, foreign `kid`, claims without `exp`...). The header's `alg` must be this key's.
    pub fn sign<T: Serialize>(&self, header: &Header, claims: &T) -> Result<String, KeyError> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }
}

/// The public key set of `keys`.
pub fn jwk_set(keys: &[&TestKeys]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|k| k.public_jwk()).collect(),
    }
}

/// A verifier trusting exactly `keys`.
pub fn verifier(keys: &[&TestKeys], issuer: &str, audience: &str) -> Result<Verifier, ConfigError> {
    Verifier::new(jwk_set(keys), issuer, audience)
}

/// The public key set of `keys` as JWKS JSON, the `AUTH_JWKS` format.
pub fn jwks_json(keys: &[&TestKeys]) -> String {
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let mut jwk = match &k.public {
                AlgorithmParameters::EllipticCurve(ec) => serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": ec.x, "y": ec.y,
                }),
                AlgorithmParameters::OctetKeyPair(okp) => serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": okp.x,
                }),
                _ => serde_json::json!({}),
            };
            jwk["kid"] = k.kid.clone().into();
            jwk["alg"] = (if k.alg == Algorithm::EdDSA {
                "EdDSA"
            } else {
                "ES256"
            })
            .into();
            jwk["use"] = "sig".into();
            jwk
        })
        .collect();
    // Built as a `Value` so serialization cannot fail.
    serde_json::json!({ "keys": keys }).to_string()
}

/// Claims of a token valid now and for the next 15 minutes, with a fresh session and token id,
/// no roles and access to every location.
pub fn claims(
    tenant: Uuid,
    user: Uuid,
    perms: &[&str],
    issuer: &str,
    audience: &str,
) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        sub: user,
        exp: now + TEST_TOKEN_LIFETIME_SECONDS,
        iat: now,
        nbf: None,
        jti: Some(Uuid::now_v7()),
        tid: tenant,
        sid: Some(Uuid::now_v7()),
        roles: Vec::new(),
        perms: perms.iter().map(|p| (*p).to_owned()).collect(),
        locs: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn jwks_json_and_jwk_set_describe_the_same_keys() {
        let a = TestKeys::es256("a").unwrap();
        let b = TestKeys::ed25519("b").unwrap();
        let parsed: JwkSet = serde_json::from_str(&jwks_json(&[&a, &b])).unwrap();
        assert_eq!(parsed, jwk_set(&[&a, &b]));
        let text = jwks_json(&[&a]);
        assert!(text.contains(r#""use":"sig""#), "{text}");
        assert!(!text.contains(r#""d""#), "{text}");
    }

    #[test]
    fn keys_survive_a_pkcs8_round_trip() {
        for keys in [
            TestKeys::es256("k").unwrap(),
            TestKeys::ed25519("k").unwrap(),
        ] {
            let again = TestKeys::from_pkcs8("k", keys.algorithm(), keys.pkcs8_der()).unwrap();
            assert_eq!(again.public_jwk(), keys.public_jwk());
        }
        assert!(matches!(
            TestKeys::from_pkcs8("k", Algorithm::ES256, b"not a key"),
            Err(KeyError::InvalidKey(Algorithm::ES256))
        ));
        assert!(matches!(
            TestKeys::from_pkcs8("k", Algorithm::HS256, b"secret"),
            Err(KeyError::UnsupportedAlgorithm(Algorithm::HS256))
        ));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let keys = TestKeys::es256("debug-kid").unwrap();
        let text = format!("{keys:?}");
        assert!(text.contains("debug-kid"));
        assert!(!text.contains(&URL_SAFE_NO_PAD.encode(keys.pkcs8_der())));
        assert!(!text.contains("pkcs8"));
    }
}
