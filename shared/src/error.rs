//! One error type for every function, rendered as RFC 9457 `application/problem+json`.
//!
//! Client errors carry a stable machine-readable `code` and a human `detail`. Server errors
//! (5xx) keep their cause chain for the log and show the client only a generic message, so no
//! internal detail (SQL, hostnames, stack) ever leaves the process.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The result type of handlers and shared helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An API error: an HTTP status, a stable `code`, and either a client-facing detail (4xx) or a
/// hidden cause (5xx).
pub struct Error {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Option<String>,
    extensions: Map<String, Value>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    source: Option<Source>,
}

impl Error {
    /// A new error with the given status and stable code.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: None,
            extensions: Map::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    /// Human-readable explanation shown to the client (ignored for 5xx, which show a generic one).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// An extra member of the problem object (RFC 9457 extension), e.g. `current_version`.
    #[must_use]
    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// A response header, e.g. `Retry-After`.
    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The underlying cause; logged (never shown) when the error is a server error.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn bad_request(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code).with_detail(detail)
    }

    pub fn unauthorized(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code)
            .with_detail(detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code).with_detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found").with_detail(detail)
    }

    pub fn conflict(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code).with_detail(detail)
    }

    pub fn unprocessable(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code).with_detail(detail)
    }

    /// A server-side failure: the client sees only `internal`, the log gets the cause chain.
    pub fn internal(source: impl Into<Source>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal").with_source(source)
    }

    /// A dependency is down or overloaded; the client (or Pub/Sub) should retry.
    pub fn unavailable(source: impl Into<Source>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable").with_source(source)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The problem object as the client sees it.
    pub fn problem(&self) -> Problem {
        let server_error = self.status.is_server_error();
        let detail = if server_error {
            Some(generic_detail(self.status).to_owned())
        } else {
            self.detail.clone()
        };
        Problem {
            r#type: format!("urn:olympus:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail,
            code: self.code.to_string(),
            extensions: self.extensions.clone(),
        }
    }

    /// The cause chain, outermost first, joined for one log line.
    pub fn cause_chain(&self) -> String {
        let mut chain = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(err) = next {
            chain.push(err.to_string());
            next = err.source();
        }
        chain.join(": ")
    }
}

fn generic_detail(status: StatusCode) -> &'static str {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        "The service is temporarily unavailable; retry with backoff."
    } else {
        "An internal error occurred; it has been logged."
    }
}

/// The serialized RFC 9457 problem object.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Problem {
    pub r#type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub code: String,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("cause", &self.cause_chain())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if self.source.is_some() {
            write!(f, " ({})", self.cause_chain())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // The one place a server error is logged, with its whole cause chain.
            tracing::error!(
                status = self.status.as_u16(),
                code = %self.code,
                detail = self.detail.as_deref().unwrap_or(""),
                cause = %self.cause_chain(),
                "request failed"
            );
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        from_db_error(err)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(db) => from_db_error(db),
            other => Self::unavailable(other),
        }
    }
}

/// Maps a database error to the status a client should see: constraint violations are the
/// client's fault (409/422, naming the constraint), contention is retryable (503), the rest 500.
fn from_db_error(err: tokio_postgres::Error) -> Error {
    use tokio_postgres::error::SqlState;
    let Some(db) = err.as_db_error() else {
        // Connection-level failure (closed, timeout): retryable.
        return Error::unavailable(err);
    };
    let constraint = db.constraint().unwrap_or("unnamed").to_owned();
    let column = db.column().map(str::to_owned);
    let code = db.code().clone();
    if code == SqlState::UNIQUE_VIOLATION || code == SqlState::EXCLUSION_VIOLATION {
        Error::conflict(
            "already_exists",
            format!("A resource with the same unique value already exists ({constraint})."),
        )
        .with_extension("constraint", constraint)
    } else if code == SqlState::FOREIGN_KEY_VIOLATION {
        Error::unprocessable(
            "reference_not_found",
            format!("A referenced resource does not exist or is still in use ({constraint})."),
        )
        .with_extension("constraint", constraint)
    } else if code == SqlState::NOT_NULL_VIOLATION {
        let column = column.unwrap_or_else(|| "unknown".to_owned());
        Error::unprocessable("missing_field", format!("`{column}` is required."))
            .with_extension("field", column)
    } else if code == SqlState::CHECK_VIOLATION {
        Error::unprocessable(
            "constraint_violation",
            format!("A value breaks the rule `{constraint}`."),
        )
        .with_extension("constraint", constraint)
    } else if code == SqlState::T_R_SERIALIZATION_FAILURE
        || code == SqlState::T_R_DEADLOCK_DETECTED
        || code == SqlState::LOCK_NOT_AVAILABLE
        || code == SqlState::QUERY_CANCELED
        || code == SqlState::TOO_MANY_CONNECTIONS
        || code == SqlState::ADMIN_SHUTDOWN
    {
        Error::unavailable(err)
    } else {
        Error::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(err: Error) -> (StatusCode, String, Value) {
        let response = err.into_response();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn client_error_renders_rfc9457_with_stable_code() {
        let (status, content_type, body) = render(
            Error::unprocessable("invalid_slug", "slug must match [a-z0-9-]+")
                .with_extension("field", "slug"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(content_type, PROBLEM_JSON);
        assert_eq!(body["type"], "urn:olympus:problem:invalid_slug");
        assert_eq!(body["title"], "Unprocessable Entity");
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "invalid_slug");
        assert_eq!(body["detail"], "slug must match [a-z0-9-]+");
        assert_eq!(body["field"], "slug");
    }

    #[tokio::test]
    async fn server_error_hides_its_cause() {
        let cause = std::io::Error::other("connection to 10.0.0.7:5432 refused; password=hunter2");
        let err = Error::internal(cause).with_detail("SELECT secret FROM vault");
        assert!(err.cause_chain().contains("10.0.0.7"));
        let (status, _, body) = render(err).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        let text = body.to_string();
        assert!(!text.contains("10.0.0.7"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("SELECT"), "{text}");
    }

    #[tokio::test]
    async fn unauthorized_carries_www_authenticate() {
        let response = Error::unauthorized("token_expired", "expired").into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
