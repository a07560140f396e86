//! Getting the [`Principal`] of a request: axum extractors and a helper for middleware.
//!
//! Credentials are `Authorization: Bearer <access JWT>`, or an API key (`olk_...`) either as
//! `Authorization: Bearer olk_...` or as `X-Api-Key: olk_...`. JWTs are verified synchronously
//! and first; only `olk_` credentials reach the database (see [`super::api_keys`]). A request
//! carrying both headers, or either header twice, is refused: a credential must be unambiguous.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, header};

use crate::error::Error;
use crate::state::AppState;

use super::api_keys::{self, INVALID_API_KEY};
use super::{Principal, Verifier, codes};

/// The dedicated API-key header.
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What the request presents.
#[derive(Debug, PartialEq, Eq)]
enum Credential<'a> {
    Jwt(&'a str),
    ApiKey(&'a str),
}

/// The principal named by the request's credentials: `Ok(None)` when it carries none, `Err`
/// (401) when it carries one that does not verify. API keys are looked up in the database.
///
/// Middleware that authenticates once for a whole router can call this and insert the result
/// into the request extensions; the [`Principal`] extractor then uses it instead of verifying
/// again.
pub async fn principal_from_request(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Error> {
    match credential(headers)? {
        None => Ok(None),
        Some(Credential::Jwt(token)) => state.verifier().verify(token).map(Some),
        Some(Credential::ApiKey(key)) => api_keys::authenticate(state, key).await.map(Some),
    }
}

/// The JWT-only subset of [`principal_from_request`], for callers without a database: an API
/// key is refused with 401 `invalid_api_key`. Prefer [`principal_from_request`].
pub fn principal_from_headers(
    verifier: &Verifier,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Error> {
    match credential(headers)? {
        None => Ok(None),
        Some(Credential::Jwt(token)) => verifier.verify(token).map(Some),
        Some(Credential::ApiKey(_)) => Err(Error::unauthorized(
            INVALID_API_KEY,
            "API keys are not accepted here.",
        )),
    }
}

/// Reads the credential of a request without verifying it.
fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, Error> {
    let authorization = single(headers, &header::AUTHORIZATION, codes::INVALID_TOKEN)?;
    let api_key = single(headers, &X_API_KEY, INVALID_API_KEY)?;
    match (authorization, api_key) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(Error::unauthorized(
            codes::INVALID_TOKEN,
            "Send either an Authorization header or an X-Api-Key header, not both.",
        )),
        (Some(value), None) => {
            let token = bearer_token(value)?;
            Ok(Some(if api_keys::looks_like_key(token) {
                Credential::ApiKey(token)
            } else {
                Credential::Jwt(token)
            }))
        }
        (None, Some(value)) => {
            let key = value.trim();
            if api_keys::looks_like_key(key) {
                Ok(Some(Credential::ApiKey(key)))
            } else {
                Err(api_keys::invalid_api_key())
            }
        }
    }
}

/// The one value of header `name`, as text: two of them, or a non-ASCII one, is 401 `code`.
fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    code: &'static str,
) -> Result<Option<&'a str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::unauthorized(
            code,
            format!("The request has more than one {name} header."),
        ));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| Error::unauthorized(code, format!("The {name} header is not visible ASCII.")))
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
        "This endpoint requires an `Authorization: Bearer <token>` (or `X-Api-Key`) header.",
    )
}

/// Verifies once per request: a principal already in the extensions (put there by a middleware
/// or by an earlier extractor) is reused, and a freshly verified one is stored for the next.
async fn extract(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, Error> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(Some(principal.clone()));
    }
    let principal = principal_from_request(state, &parts.headers).await?;
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
        extract(parts, &app).await?.ok_or_else(missing_token)
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
        extract(parts, &app).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append((*name).clone(), value.parse().unwrap());
        }
        headers
    }

    fn code(headers: &HeaderMap) -> String {
        credential(headers).unwrap_err().code().to_owned()
    }

    #[test]
    fn credentials_are_told_apart_by_their_shape() {
        let auth = &header::AUTHORIZATION;
        assert_eq!(credential(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            credential(&headers(&[(auth, "Bearer a.b.c")])).unwrap(),
            Some(Credential::Jwt("a.b.c"))
        );
        assert_eq!(
            credential(&headers(&[(auth, "bearer olk_x_y")])).unwrap(),
            Some(Credential::ApiKey("olk_x_y"))
        );
        assert_eq!(
            credential(&headers(&[(&X_API_KEY, " olk_x_y ")])).unwrap(),
            Some(Credential::ApiKey("olk_x_y"))
        );
        assert_eq!(code(&headers(&[(&X_API_KEY, "a.b.c")])), INVALID_API_KEY);
        assert_eq!(
            code(&headers(&[(&X_API_KEY, "olk_a"), (&X_API_KEY, "olk_b")])),
            INVALID_API_KEY
        );
        assert_eq!(
            code(&headers(&[(auth, "Bearer a.b.c"), (&X_API_KEY, "olk_b")])),
            codes::INVALID_TOKEN
        );
        assert_eq!(
            code(&headers(&[(auth, "ApiKey olk_b")])),
            codes::INVALID_TOKEN
        );
    }
}
