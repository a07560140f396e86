//! Optimistic concurrency for `PATCH` endpoints: every versioned resource (tenant, user,
//! location, role) answers `ETag: "<version>"`, and a change must name the version it was made
//! against in `If-Match` — missing is 428 `precondition_required`, unreadable is 400
//! `invalid_if_match`, stale is 412 `version_mismatch` with `current_version`.
//!
//! ```ignore
//! let expected = versioning::expected_version(&headers, "location")?;
//! // ... load the row FOR UPDATE ...
//! if before.version != expected {
//!     return Err(versioning::version_mismatch("location", expected, before.version));
//! }
//! ```

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::Error;

/// The version named by `If-Match`: the strong entity tag `"3"` or the bare number `3`
/// (positive). `resource` names the thing in the problem's detail (`"tenant"`, `"user"`...).
pub fn expected_version(headers: &HeaderMap, resource: &str) -> Result<i32, Error> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(
            Error::new(StatusCode::PRECONDITION_REQUIRED, "precondition_required").with_detail(
                format!(
                    "Send If-Match with the {resource}'s current version (the ETag of its GET)."
                ),
            ),
        );
    };
    let invalid = || {
        Error::bad_request(
            "invalid_if_match",
            format!(
                "If-Match must be the {resource}'s version, as its ETag (\"3\") or the bare number."
            ),
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse::<i32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(invalid)
}

/// The strong entity tag of `version`: `"<version>"`.
pub fn etag(version: i32) -> HeaderValue {
    // A quoted integer is always a valid header value; the fallback is unreachable.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// 412 `version_mismatch`: `If-Match` named `expected` but the `resource` is at
/// `current_version` (in the `current_version` member and the `ETag` header).
pub fn version_mismatch(resource: &str, expected: i32, current_version: i32) -> Error {
    Error::new(StatusCode::PRECONDITION_FAILED, "version_mismatch")
        .with_detail(format!(
            "If-Match names version {expected} but the {resource} is at version \
             {current_version}; fetch it again and reapply the change."
        ))
        .with_extension("current_version", current_version)
        .with_header(header::ETAG, etag(current_version))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(if_match: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = if_match {
            headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_match_takes_an_etag_or_a_bare_number() {
        assert_eq!(
            expected_version(&headers(Some("\"3\"")), "tenant").unwrap(),
            3
        );
        assert_eq!(
            expected_version(&headers(Some(" 12 ")), "user").unwrap(),
            12
        );
        assert_eq!(
            expected_version(&headers(Some("7")), "location").unwrap(),
            7
        );
        let missing = expected_version(&headers(None), "tenant").unwrap_err();
        assert_eq!(missing.status(), StatusCode::PRECONDITION_REQUIRED);
        assert_eq!(missing.code(), "precondition_required");
        assert!(missing.detail().unwrap().contains("tenant's"));
        for bad in ["*", "W/\"3\"", "\"x\"", "0", "-1", "\"3"] {
            let err = expected_version(&headers(Some(bad)), "location").unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(err.code(), "invalid_if_match", "{bad}");
            assert!(err.detail().unwrap().contains("location's"));
        }
    }

    #[test]
    fn etags_are_quoted_versions() {
        assert_eq!(etag(3), "\"3\"");
        assert_eq!(etag(120), "\"120\"");
    }

    #[test]
    fn mismatches_carry_the_current_version() {
        let err = version_mismatch("user", 2, 5);
        assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(err.code(), "version_mismatch");
        assert_eq!(err.problem().extensions["current_version"], 5);
        assert_eq!(
            err.detail(),
            Some(
                "If-Match names version 2 but the user is at version 5; \
                 fetch it again and reapply the change."
            )
        );
    }
}
