//! Getting the [`Principal`] of a request: axum extractors and a helper for middleware.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::error::Error;
use crate::state::AppState;

use super::{Principal, Verifier, codes};

/// The principal named by the request's credentials: `Ok(None)` when it carries none, `Err`
/// (401) when it carries one that does not verify.
///
/// Middleware that authenticates once for a whole router can call this and insert the result
/// into the request extensions; the [`Principal`] extractor then uses it instead of verifying
/// again.
pub fn principal_from_headers(
    verifier: &Verifier,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Error> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        // EXTENSION POINT (identity issue): API keys. If they travel in a dedicated header
        // (e.g. `X-Api-Key`), check it here before answering "no credentials"; if they use their
        // own `Authorization` scheme, see the second marker below. Checking an API key needs a
        // database lookup, so this function (and the extractors) will then take the `AppState`
        // and become async; the `Principal` built from a key has `session_id: None`.
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::unauthorized(
            codes::INVALID_TOKEN,
            "The request has more than one Authorization header.",
        ));
    }
    let value = value.to_str().map_err(|_| {
        Error::unauthorized(
            codes::INVALID_TOKEN,
            "The Authorization header is not visible ASCII.",
        )
    })?;
    // EXTENSION POINT (identity issue): an `ApiKey <key>` scheme is recognised here, next to
    // `Bearer`, instead of being refused as `invalid_token`.
    let token = bearer_token(value)?;
    verifier.verify(token).map(Some)
}

/// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer_token(value: &str) -> Result<&str, Error> {
    let value = value.trim();
    let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::unauthorized(
            codes::INVALID_TOKEN,
            "The Authorization header must use the Bearer scheme.",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Error::unauthorized(
            codes::INVALID_TOKEN,
            "The Authorization header must be `Bearer <token>`.",
        ));
    }
    Ok(token)
}

fn missing_token() -> Error {
    Error::unauthorized(
        codes::MISSING_TOKEN,
        "This endpoint requires an `Authorization: Bearer <token>` header.",
    )
}

/// Verifies once per request: a principal already in the extensions (put there by a middleware
/// or by an earlier extractor) is reused, and a freshly verified one is stored for the next.
fn extract(parts: &mut Parts, verifier: &Verifier) -> Result<Option<Principal>, Error> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(Some(principal.clone()));
    }
    let principal = principal_from_headers(verifier, &parts.headers)?;
    if let Some(principal) = &principal {
        parts.extensions.insert(principal.clone());
    }
    Ok(principal)
}

/// Requires an authenticated caller: 401 `missing_token` without credentials, 401 with the
/// verifier's code when they do not verify. Works with any router state that contains the
/// [`AppState`] (including `AppState` itself).
impl<S> FromRequestParts<S> for Principal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        extract(parts, app.verifier())?.ok_or_else(missing_token)
    }
}

/// `Option<Principal>`: `None` for anonymous requests, but credentials that are present and
/// invalid are still refused (401) rather than silently treated as anonymous.
impl<S> OptionalFromRequestParts<S> for Principal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let app = AppState::from_ref(state);
        extract(parts, app.verifier())
    }
}
