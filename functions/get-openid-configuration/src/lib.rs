//! `get-openid-configuration` — `GET /.well-known/openid-configuration`.
//!
//! OpenID Connect Discovery-style metadata (also valid RFC 8414 authorization-server metadata)
//! so that clients and gateways can find the verification keys from the issuer alone:
//!
//! - `issuer`: `AUTH_ISSUER` exactly as configured, which is what access tokens carry in `iss`
//!   (Discovery requires the two to be identical);
//! - `jwks_uri`: `<issuer>/.well-known/jwks.json` (served by `get-jwks`);
//! - `token_endpoint`: `<issuer>/v1/auth/refresh` (`refresh-session`). Olympus has no OAuth
//!   authorization endpoint: passwords go to `POST /v1/auth/login`, and the endpoint that
//!   exchanges a refresh token for a new access token is the nearest thing to a token endpoint,
//!   hence `grant_types_supported: ["refresh_token"]` and no `response_types_supported`;
//! - the signing algorithms the verifier accepts (ES256, EdDSA) and `subject_types_supported:
//!   ["public"]`; clients do not authenticate to the token endpoint (`none`).
//!
//! URLs are built from the issuer without its trailing slash. Public and cacheable for 5 minutes
//! (`Cache-Control: public, max-age=300`); the body is rendered once, at the first request.
//!
//! Env: `AUTH_ISSUER` (default `https://auth.olympus.local`). Emits no events.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::{AppState, Error, Function};
use serde::Serialize;

/// The route.
pub const PATH: &str = "/.well-known/openid-configuration";

/// How long clients and caches may keep the document.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// Where the key set is served, relative to the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The refresh endpoint, published as `token_endpoint`, relative to the issuer.
pub const TOKEN_PATH: &str = "/v1/auth/refresh";

/// The discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub grant_types_supported: &'static [&'static str],
    pub response_types_supported: &'static [&'static str],
    pub subject_types_supported: &'static [&'static str],
    pub id_token_signing_alg_values_supported: &'static [&'static str],
    pub token_endpoint_auth_methods_supported: &'static [&'static str],
}

impl Discovery {
    /// The document for an issuer.
    pub fn for_issuer(issuer: &str) -> Self {
        let base = issuer.trim_end_matches('/');
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: format!("{base}{JWKS_PATH}"),
            token_endpoint: format!("{base}{TOKEN_PATH}"),
            grant_types_supported: &["refresh_token"],
            response_types_supported: &[],
            subject_types_supported: &["public"],
            id_token_signing_alg_values_supported: &["ES256", "EdDSA"],
            token_endpoint_auth_methods_supported: &["none"],
        }
    }
}

/// The rendered body and the issuer it was rendered for.
type Rendered = (String, Bytes);

pub fn function() -> Function {
    let cache: Arc<OnceLock<Rendered>> = Arc::default();
    Function::http("get-openid-configuration")
        .route(&Method::GET, PATH, move |State(state): State<AppState>| {
            let cache = Arc::clone(&cache);
            async move { configuration(&state, &cache) }
        })
        .build()
}

fn configuration(state: &AppState, cache: &OnceLock<Rendered>) -> Result<Response, Error> {
    let body = cached_body(cache, &state.config().auth_issuer)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
        ],
        body,
    )
        .into_response())
}

/// The body for `issuer`, rendered once; keyed by the issuer so a router served with another
/// configuration never gets a stale document.
fn cached_body(cache: &OnceLock<Rendered>, issuer: &str) -> Result<Bytes, Error> {
    if let Some((cached_issuer, body)) = cache.get()
        && cached_issuer == issuer
    {
        return Ok(body.clone());
    }
    let body =
        Bytes::from(serde_json::to_vec(&Discovery::for_issuer(issuer)).map_err(Error::internal)?);
    let _ = cache.set((issuer.to_owned(), body.clone()));
    Ok(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_hang_off_the_issuer_without_its_trailing_slash() {
        for issuer in ["https://auth.example", "https://auth.example/"] {
            let doc = Discovery::for_issuer(issuer);
            assert_eq!(
                doc.issuer, issuer,
                "the issuer is what tokens carry in `iss`"
            );
            assert_eq!(doc.jwks_uri, "https://auth.example/.well-known/jwks.json");
            assert_eq!(doc.token_endpoint, "https://auth.example/v1/auth/refresh");
        }
    }

    #[test]
    fn serializes_the_discovery_members() {
        let value = serde_json::to_value(Discovery::for_issuer("https://a.example")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "issuer": "https://a.example",
                "jwks_uri": "https://a.example/.well-known/jwks.json",
                "token_endpoint": "https://a.example/v1/auth/refresh",
                "grant_types_supported": ["refresh_token"],
                "response_types_supported": [],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
                "token_endpoint_auth_methods_supported": ["none"],
            })
        );
    }

    #[test]
    fn the_cache_follows_the_issuer() {
        let cache = OnceLock::new();
        let a = cached_body(&cache, "https://a.example").unwrap();
        assert_eq!(cached_body(&cache, "https://a.example").unwrap(), a);
        let b = cached_body(&cache, "https://b.example").unwrap();
        assert!(String::from_utf8_lossy(&b).contains("https://b.example/.well-known/jwks.json"));
    }
}
