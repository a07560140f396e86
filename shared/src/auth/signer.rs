//! Issuing side of access tokens: the one signing key (several may verify, see [`Verifier`]).
//!
//! Rotation: publish the new public key in `AUTH_JWKS` next to the old one, then switch
//! `AUTH_SIGNING_KEY`/`AUTH_SIGNING_KEY_ID` to it; tokens signed by the old key keep verifying
//! until it leaves `AUTH_JWKS` (after the 15-minute access lifetime).
//!
//! [`Verifier`]: super::Verifier

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use super::AccessClaims;
use crate::config::{Config, ConfigError};
use crate::error::Error;

/// The secret a token-issuing function declares in its spec (`.secrets(&[SIGNING_KEY_SECRET])`)
/// so that Terraform mounts the private key for it, and for no other function.
pub const SIGNING_KEY_SECRET: &str = "AUTH_SIGNING_KEY";

/// Access tokens live 15 minutes: a revoked session's token dies within that.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

/// Signs access tokens with one private key.
#[derive(Clone)]
pub struct Signer {
    kid: String,
    algorithm: Algorithm,
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn invalid(var: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        value: "<secret>".to_owned(),
        problem: problem.into(),
    }
}

impl Signer {
    /// The signer of `AUTH_SIGNING_KEY`, or `None` where this function issues no tokens.
    /// `verifier` (built from the same config) proves the key's tokens will verify.
    pub fn from_config(
        config: &Config,
        verifier: &super::Verifier,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(key) = config.auth_signing_key.as_deref() else {
            return Ok(None);
        };
        let kid = config
            .auth_signing_key_id
            .clone()
            .ok_or_else(|| ConfigError::Missing {
                var: "AUTH_SIGNING_KEY_ID".to_owned(),
                hint: "the kid of AUTH_SIGNING_KEY, as listed in AUTH_JWKS".to_owned(),
            })?;
        let algorithm = match config.auth_signing_alg.as_str() {
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                return Err(ConfigError::Invalid {
                    var: "AUTH_SIGNING_ALG".to_owned(),
                    value: other.to_owned(),
                    problem: "expected ES256 or EdDSA".to_owned(),
                });
            }
        };
        let encoding = if key.trim_start().starts_with("-----BEGIN") {
            match algorithm {
                Algorithm::EdDSA => EncodingKey::from_ed_pem(key.as_bytes()),
                _ => EncodingKey::from_ec_pem(key.as_bytes()),
            }
            .map_err(|e| invalid("AUTH_SIGNING_KEY", format!("not a PKCS#8 PEM key: {e}")))?
        } else {
            let der = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| invalid("AUTH_SIGNING_KEY", "neither PEM nor base64 DER"))?;
            match algorithm {
                Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
                _ => EncodingKey::from_ec_der(&der),
            }
        };
        let signer = Self::new(
            kid,
            algorithm,
            encoding,
            config.auth_issuer.clone(),
            config.auth_audience.clone(),
        );
        // A key whose tokens no verifier accepts is a deployment mistake: refuse to start.
        let probe = signer
            .sign(&signer.claims(Uuid::nil(), Uuid::nil(), None, Vec::new(), Vec::new(), None))
            .map_err(|e| invalid("AUTH_SIGNING_KEY", e.to_string()))?;
        verifier.verify(&probe).map_err(|e| {
            invalid(
                "AUTH_SIGNING_KEY",
                format!("its tokens do not verify against AUTH_JWKS ({})", e.code()),
            )
        })?;
        Ok(Some(signer))
    }

    pub fn new(
        kid: String,
        algorithm: Algorithm,
        key: EncodingKey,
        issuer: String,
        audience: String,
    ) -> Self {
        Self {
            kid,
            algorithm,
            key,
            issuer,
            audience,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Claims of a fresh 15-minute access token.
    pub fn claims(
        &self,
        tenant: Uuid,
        user: Uuid,
        session: Option<Uuid>,
        roles: Vec<String>,
        perms: Vec<String>,
        locs: Option<Vec<Uuid>>,
    ) -> AccessClaims {
        let now = chrono::Utc::now().timestamp();
        AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user,
            exp: now + ACCESS_TOKEN_SECONDS,
            iat: now,
            nbf: Some(now),
            jti: Some(Uuid::now_v7()),
            tid: tenant,
            sid: session,
            roles,
            perms,
            locs,
        }
    }

    /// Signs claims with this key, its `kid` in the header.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, Error> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(Error::internal)
    }
}
