//! `Query` and `Path` extractors whose rejections are problem+json, like [`super::Json`].

use axum::extract::{FromRequestParts, rejection::PathRejection, rejection::QueryRejection};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Query string extractor: a malformed query is 400 `invalid_query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e: QueryRejection| Error::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters extractor: a malformed id is 404 `not_found` (an id that cannot exist
/// names no resource), never a plain-text 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|e: PathRejection| {
                Error::not_found(format!("No such resource ({}).", e.body_text()))
            })
    }
}
