//! HTTP conventions shared by every function: the JSON extractor with problem+json rejections,
//! the standard layer stack (request ids, request spans, security headers, CORS, body limit,
//! panics as 500 problems), `/healthz`, `Idempotency-Key` support, `If-Match` versioning and
//! cursor pagination.

pub mod client;
pub mod extract;
pub mod idempotency;
pub mod pagination;
pub mod versioning;

use std::any::Any;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::error::Error;
use crate::state::AppState;
use crate::telemetry;

pub use client::ClientInfo;
pub use extract::{Path, Query};
pub use idempotency::Idempotency;

/// The request id header, set when the client did not send one and echoed in the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// JSON body extractor and response whose rejections are problem+json with stable codes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: &JsonRejection) -> Error {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            Error::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                .with_detail("The body must be JSON with Content-Type: application/json.")
        }
        JsonRejection::JsonSyntaxError(e) => Error::bad_request(
            "malformed_json",
            format!("The body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => Error::unprocessable("invalid_body", e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            payload_too_large()
        }
        other => Error::bad_request("invalid_body", other.body_text()),
    }
}

/// A function's own body limit (see [`crate::function::HttpFunction::body_limit`]), in the
/// request extensions of its routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

pub(crate) fn payload_too_large() -> Error {
    Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        .with_detail("The request body is larger than this endpoint accepts.")
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({ "status": "ok" })),
    )
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Error {
    Error::not_found(format!("No route for {method} {}.", uri.path()))
}

/// Turns axum's plain-text 405 (and any other empty error answer from routing) into a problem.
async fn problem_for_routing_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| v != crate::error::PROBLEM_JSON)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut err = Error::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            .with_detail("The method is not allowed on this resource.");
        if let Some(allow) = allow {
            err = err.with_header(header::ALLOW, allow);
        }
        return err.into_response();
    }
    response
}

/// Makes the state reachable from layers that cannot take it at build time (idempotency).
async fn provide_state(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(state);
    next.run(request).await
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    // The panic message may hold internals; the default panic hook has already logged it.
    Error::internal(std::io::Error::other("handler panicked")).into_response()
}

/// Applies the standard stack to a function's routes and binds the state: the router every
/// platform (Cloud Run, Lambda, the dev runner, tests) serves.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    let config = state.config().clone();
    let router = routes
        .route("/healthz", axum::routing::get(healthz))
        .fallback(not_found)
        .layer(middleware::from_fn(problem_for_routing_errors))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), provide_state));
    let router = security_headers(router);
    let router = match cors(&config) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    // Outermost first on the way in: request id, then the request span (so it logs the id and
    // sees panics turned into 500s by the layer inside it), then the rest.
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(telemetry::request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestIdV7))
        .with_state(state)
}

/// Request ids are UUIDv7 like every other id, so they sort by time in logs.
#[derive(Debug, Clone, Copy, Default)]
struct MakeRequestIdV7;

impl MakeRequestId for MakeRequestIdV7 {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

fn security_headers(router: Router<AppState>) -> Router<AppState> {
    let headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

fn cors(config: &Config) -> Option<CorsLayer> {
    if config.cors_allowed_origins.is_empty() {
        return None;
    }
    let origin = if config.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = config
            .cors_allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        AllowOrigin::list(origins)
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-api-key"),
                REQUEST_ID,
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                REQUEST_ID,
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(std::time::Duration::from_secs(600))
            .vary([header::ORIGIN])
            .allow_credentials(false)
            .allow_private_network(false),
    )
}
