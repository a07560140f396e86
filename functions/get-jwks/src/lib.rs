//! `get-jwks` — `GET /.well-known/jwks.json`.
//!
//! The public keys access tokens are verified with (RFC 7517 JWK Set), for clients and other
//! services that verify Olympus tokens themselves. Public, cacheable for 5 minutes
//! (`Cache-Control: public, max-age=300`): after a key is added to `AUTH_JWKS`, wait at least
//! that long before signing with it (see `olympus::auth::Signer` on rotation).
//!
//! Only the public members `kty`, `crv`, `x`, `y`, `kid`, `alg` and `use` of EC and OKP keys are
//! published. `AUTH_JWKS` never holds private members (the verifier refuses to start when it
//! does), but the allow-list keeps a mistake there from ever reaching a client. The body is
//! rendered once, at the first request, and served from memory afterwards.
//!
//! Env: `AUTH_JWKS` (unset: an empty key set). Emits no events.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::{AppState, Error, Function};
use serde_json::{Map, Value};

/// The route.
pub const PATH: &str = "/.well-known/jwks.json";

/// How long clients and caches may keep the key set.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// The JWK members that are published; everything else is dropped.
const PUBLIC_MEMBERS: &[&str] = &["kty", "crv", "x", "y", "kid", "alg", "use"];

/// Key types whose members above are all public (symmetric `oct` keys are never published).
const PUBLIC_KEY_TYPES: &[&str] = &["EC", "OKP"];

/// The rendered body and the `AUTH_JWKS` value it was rendered from.
type Rendered = (Option<String>, Bytes);

pub fn function() -> Function {
    let cache: Arc<OnceLock<Rendered>> = Arc::default();
    Function::http("get-jwks")
        .route(&Method::GET, PATH, move |State(state): State<AppState>| {
            let cache = Arc::clone(&cache);
            async move { jwks(&state, &cache) }
        })
        .build()
}

fn jwks(state: &AppState, cache: &OnceLock<Rendered>) -> Result<Response, Error> {
    let body = cached_body(cache, state.config().auth_jwks.as_deref())?;
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

/// The body for `source`, rendered once. The cache is keyed by its source so a router served
/// with another configuration (several platforms in one test process) never gets a stale set.
fn cached_body(cache: &OnceLock<Rendered>, source: Option<&str>) -> Result<Bytes, Error> {
    if let Some((cached_source, body)) = cache.get()
        && cached_source.as_deref() == source
    {
        return Ok(body.clone());
    }
    let body = Bytes::from(public_jwks(source)?);
    // The first rendering wins; a concurrent one rendered the same bytes.
    let _ = cache.set((source.map(str::to_owned), body.clone()));
    Ok(body)
}

/// The JWK Set to publish for an `AUTH_JWKS` document: public members of EC and OKP keys only.
///
/// A malformed document is a 500 whose cause never includes the document itself (the verifier
/// refuses such a document at start-up, so this is not expected to happen).
pub fn public_jwks(source: Option<&str>) -> Result<Vec<u8>, Error> {
    let malformed = |what: &str| {
        Error::internal(std::io::Error::other(format!(
            "AUTH_JWKS is not a usable JWKS document: {what}"
        )))
    };
    let mut keys = Vec::new();
    if let Some(source) = source {
        let document: Value =
            serde_json::from_str(source).map_err(|_| malformed("not valid JSON"))?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `keys` array"))?;
        for entry in entries {
            let object = entry
                .as_object()
                .ok_or_else(|| malformed("a key is not an object"))?;
            let public_type = object
                .get("kty")
                .and_then(Value::as_str)
                .is_some_and(|kty| PUBLIC_KEY_TYPES.contains(&kty));
            if !public_type {
                continue;
            }
            let public: Map<String, Value> = PUBLIC_MEMBERS
                .iter()
                .filter_map(|member| {
                    object
                        .get(*member)
                        .filter(|value| value.is_string())
                        .map(|value| ((*member).to_owned(), value.clone()))
                })
                .collect();
            keys.push(Value::Object(public));
        }
    }
    serde_json::to_vec(&serde_json::json!({ "keys": keys })).map_err(Error::internal)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn published(source: &str) -> Value {
        serde_json::from_slice(&public_jwks(Some(source)).unwrap()).unwrap()
    }

    #[test]
    fn only_public_members_of_asymmetric_keys_are_published() {
        let source = r#"{"keys": [
            {"kty": "EC", "crv": "P-256", "x": "ex", "y": "why", "d": "SECRET", "kid": "a",
             "alg": "ES256", "use": "sig", "key_ops": ["sign"], "p": "SECRET"},
            {"kty": "OKP", "crv": "Ed25519", "x": "ex", "d": "SECRET", "kid": "b"},
            {"kty": "oct", "k": "SECRET", "kid": "c"},
            {"kty": "RSA", "n": "n", "e": "AQAB", "d": "SECRET", "kid": "r"}
        ]}"#;
        let value = published(source);
        assert_eq!(
            value,
            serde_json::json!({"keys": [
                {"kty": "EC", "crv": "P-256", "x": "ex", "y": "why", "kid": "a", "alg": "ES256",
                 "use": "sig"},
                {"kty": "OKP", "crv": "Ed25519", "x": "ex", "kid": "b"}
            ]})
        );
        assert!(!value.to_string().contains("SECRET"));
    }

    #[test]
    fn no_key_set_publishes_an_empty_one() {
        let body = public_jwks(None).unwrap();
        assert_eq!(body, br#"{"keys":[]}"#);
    }

    #[test]
    fn malformed_documents_are_internal_errors_without_their_content() {
        for source in [
            "not json SECRET",
            r#"{"nokeys": "SECRET"}"#,
            r#"{"keys": ["SECRET"]}"#,
        ] {
            let err = public_jwks(Some(source)).unwrap_err();
            assert_eq!(err.code(), "internal");
            assert!(
                !err.cause_chain().contains("SECRET"),
                "{}",
                err.cause_chain()
            );
        }
    }

    #[test]
    fn the_cache_follows_its_source() {
        let cache = OnceLock::new();
        let a = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "a", "kid": "a"}]}"#;
        let b = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "b", "kid": "b"}]}"#;
        let first = cached_body(&cache, Some(a)).unwrap();
        assert_eq!(cached_body(&cache, Some(a)).unwrap(), first);
        let other = cached_body(&cache, Some(b)).unwrap();
        assert_ne!(other, first);
        assert!(String::from_utf8_lossy(&other).contains(r#""kid":"b""#));
        assert_eq!(cached_body(&cache, None).unwrap(), &br#"{"keys":[]}"#[..]);
    }
}
