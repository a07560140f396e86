//! The claims of an Olympus access token: what the issuing side signs and the verifier reads.

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::Principal;

/// The payload of an access JWT.
///
/// Registered claims (`iss`, `aud`, `sub`, `exp`, `iat`, `nbf`, `jti`) follow RFC 7519; the
/// Olympus claims are short because the token travels on every request.
///
/// Fail-closed shape: `perms` and `roles` default to empty when absent (no grants), while `locs`
/// must be present, `null` meaning "every location of the tenant". A token whose issuer forgot the
/// location list is rejected instead of silently granting every location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: must equal the verifier's `AUTH_ISSUER`.
    pub iss: String,
    /// Audience: must equal the verifier's `AUTH_AUDIENCE` (a single string, as Olympus issues).
    pub aud: String,
    /// Subject: the user id.
    pub sub: Uuid,
    /// Expiry, seconds since the Unix epoch. Required.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Not before, seconds since the Unix epoch; validated when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Token id, for revocation lists and audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Uuid>,
    /// Tenant id: every query the request makes is scoped to it.
    pub tid: Uuid,
    /// Session id; absent for credentials that have no session (API keys, later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Role names, informational (permissions are already expanded into `perms`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permission strings such as `orders:read`, `orders:*` or `*`.
    #[serde(default)]
    pub perms: Vec<String>,
    /// Locations the principal may act on; `null` = all locations of the tenant. Must be present.
    #[serde(deserialize_with = "present_but_nullable")]
    pub locs: Option<Vec<Uuid>>,
}

/// With `deserialize_with`, serde no longer treats a missing `Option` field as `None`, so `locs`
/// has to be written explicitly (as a list or as `null`).
fn present_but_nullable<'de, D>(deserializer: D) -> Result<Option<Vec<Uuid>>, D::Error>
where
    D: Deserializer<'de>,
{
    Option::<Vec<Uuid>>::deserialize(deserializer)
}

impl From<AccessClaims> for Principal {
    fn from(claims: AccessClaims) -> Self {
        Self {
            tenant_id: claims.tid,
            user_id: claims.sub,
            session_id: claims.sid,
            roles: claims.roles,
            permissions: claims.perms,
            locations: claims.locs,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "iss": "https://auth.test", "aud": "olympus",
            "sub": Uuid::nil(), "tid": Uuid::max(),
            "exp": 2, "iat": 1, "locs": null
        })
    }

    #[test]
    fn lists_default_to_empty_and_null_locs_means_all() {
        let claims: AccessClaims = serde_json::from_value(base()).unwrap();
        assert!(claims.perms.is_empty());
        assert!(claims.roles.is_empty());
        assert_eq!(claims.locs, None);
        assert_eq!(claims.sid, None);
    }

    #[test]
    fn missing_locs_is_rejected() {
        let mut value = base();
        value.as_object_mut().unwrap().remove("locs");
        let err = serde_json::from_value::<AccessClaims>(value).unwrap_err();
        assert!(err.to_string().contains("locs"), "{err}");
    }

    #[test]
    fn serializes_locs_explicitly_and_round_trips() {
        let claims: AccessClaims = serde_json::from_value(base()).unwrap();
        let value = serde_json::to_value(&claims).unwrap();
        assert!(value.get("locs").is_some_and(serde_json::Value::is_null));
        assert!(value.get("nbf").is_none());
        assert_eq!(
            serde_json::from_value::<AccessClaims>(value).unwrap(),
            claims
        );
    }
}
