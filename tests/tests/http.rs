//! HTTP conventions through the whole platform: problem+json for every error, request ids and
//! security headers, CORS, body limits, authentication and operator-only endpoints, and
//! `Idempotency-Key` (replay, reuse with another body, in-flight retry, expiry, scoping).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::TestPlatform;
use serde_json::{Value, json};
use uuid::Uuid;

async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "content type"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:olympus:problem:{code}"));
    assert!(body["title"].is_string());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_problem_and_every_response_has_ids_and_security_headers() {
    let platform = TestPlatform::start(None).await;
    let http = &platform.http;

    let health = http.get(platform.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let request_id = health.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(Uuid::parse_str(&request_id).unwrap().get_version_num(), 7);
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "strict-transport-security",
    ] {
        assert!(health.headers().contains_key(header), "missing {header}");
    }
    // A client's own request id is kept.
    let echoed = http
        .get(platform.url("/healthz"))
        .header("x-request-id", "till-7-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "till-7-req-42");

    let missing = http
        .get(platform.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    problem(missing, 404, "not_found").await;

    let wrong_method = http
        .delete(platform.url("/probe/echo"))
        .send()
        .await
        .unwrap();
    assert!(wrong_method.headers().contains_key("allow"));
    problem(wrong_method, 405, "method_not_allowed").await;

    let panicked = http.get(platform.url("/probe/panic")).send().await.unwrap();
    let body = problem(panicked, 500, "internal").await;
    assert!(!body.to_string().contains("hunter2"), "{body}");

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_rejected_with_stable_codes() {
    let platform = TestPlatform::start(None).await;
    let http = &platform.http;
    let url = platform.url("/probe/records");
    let key = || Uuid::now_v7().to_string();

    let malformed = http
        .post(&url)
        .header("idempotency-key", key())
        .header("content-type", "application/json")
        .body("{\"label\": ")
        .send()
        .await
        .unwrap();
    problem(malformed, 400, "malformed_json").await;

    let not_json = http
        .post(&url)
        .header("idempotency-key", key())
        .header("content-type", "text/plain")
        .body("label=x")
        .send()
        .await
        .unwrap();
    problem(not_json, 415, "unsupported_media_type").await;

    let wrong_shape = http
        .post(&url)
        .header("idempotency-key", key())
        .json(&json!({ "label": 42 }))
        .send()
        .await
        .unwrap();
    problem(wrong_shape, 422, "invalid_body").await;

    let huge = http
        .post(&url)
        .header("idempotency-key", key())
        .json(&json!({ "label": "x".repeat(70_000) }))
        .send()
        .await
        .unwrap();
    problem(huge, 413, "payload_too_large").await;

    let huge_echo = http
        .post(platform.url("/probe/echo"))
        .body("y".repeat(70_000))
        .send()
        .await
        .unwrap();
    assert_eq!(huge_echo.status(), 413);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_need_a_token_and_an_operator() {
    let platform = TestPlatform::start(None).await;
    let http = &platform.http;
    let url = platform.url("/v1/admin/dead-letters");

    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    problem(anonymous, 401, "missing_token").await;

    let garbage = http
        .get(&url)
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    problem(garbage, 401, "invalid_token").await;

    // A tenant's owner with every permission of its tenant is still not a platform operator.
    let tenant_admin = platform.token(Uuid::now_v7(), &["*"]);
    let denied = http
        .get(&url)
        .bearer_auth(tenant_admin)
        .send()
        .await
        .unwrap();
    problem(denied, 403, "permission_denied").await;

    let listed = http
        .get(&url)
        .bearer_auth(platform.operator_token())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["items"], json!([]));

    let bad_limit = http
        .get(format!("{url}?limit=0"))
        .bearer_auth(platform.operator_token())
        .send()
        .await
        .unwrap();
    problem(bad_limit, 422, "invalid_limit").await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_configured_origins_only() {
    let platform = TestPlatform::start(None).await;
    let preflight = |origin: &'static str| {
        platform
            .http
            .request(reqwest::Method::OPTIONS, platform.url("/probe/records"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "idempotency-key,content-type",
            )
            .send()
    };
    let allowed = preflight("https://pos.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://pos.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    platform.stop().await;
}

async fn outbox_rows(platform: &TestPlatform) -> i64 {
    platform
        .owner()
        .await
        .query_one("SELECT count(*) FROM events.outbox", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_refuse_reuse_and_serialize_retries() {
    let platform = TestPlatform::start(None).await;
    let http = &platform.http;
    let url = platform.url("/probe/records");

    let required = http
        .post(&url)
        .json(&json!({ "label": "a" }))
        .send()
        .await
        .unwrap();
    problem(required, 400, "idempotency_key_required").await;
    let invalid = http
        .post(&url)
        .header("idempotency-key", "has spaces")
        .json(&json!({ "label": "a" }))
        .send()
        .await
        .unwrap();
    problem(invalid, 400, "invalid_idempotency_key").await;

    let key = Uuid::now_v7().to_string();
    let first = http
        .post(&url)
        .header("idempotency-key", &key)
        .json(&json!({ "label": "a" }))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_body: Value = first.json().await.unwrap();

    let replay = http
        .post(&url)
        .header("idempotency-key", &key)
        .json(&json!({ "label": "a" }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["content-type"], "application/json");
    let replay_body: Value = replay.json().await.unwrap();
    assert_eq!(
        replay_body, first_body,
        "the stored response, not a new one"
    );
    assert_eq!(outbox_rows(&platform).await, 1, "the operation ran once");

    let reused = http
        .post(&url)
        .header("idempotency-key", &key)
        .json(&json!({ "label": "b" }))
        .send()
        .await
        .unwrap();
    problem(reused, 422, "idempotency_key_reused").await;

    // The same key from an authenticated principal is another scope.
    let token = platform.token(Uuid::now_v7(), &[]);
    let scoped = http
        .post(&url)
        .bearer_auth(token)
        .header("idempotency-key", &key)
        .json(&json!({ "label": "b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(scoped.status(), 201);

    // A retry while the first attempt still runs: 409 with Retry-After, then the replay.
    let slow_key = Uuid::now_v7().to_string();
    let slow_body = json!({ "label": "slow", "sleep_ms": 1500 });
    let first_attempt = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        let slow_key = slow_key.clone();
        let slow_body = slow_body.clone();
        async move {
            http.post(&url)
                .header("idempotency-key", &slow_key)
                .json(&slow_body)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let concurrent = http
        .post(&url)
        .header("idempotency-key", &slow_key)
        .json(&slow_body)
        .send()
        .await
        .unwrap();
    assert_eq!(concurrent.headers()["retry-after"], "1");
    problem(concurrent, 409, "idempotency_request_in_progress").await;
    assert_eq!(first_attempt.await.unwrap(), 201);
    let after = http
        .post(&url)
        .header("idempotency-key", &slow_key)
        .json(&slow_body)
        .send()
        .await
        .unwrap();
    assert_eq!(after.headers()["idempotent-replayed"], "true");

    // After 72 hours a key is new again.
    let expired_rows = platform
        .admin()
        .await
        .execute(
            "UPDATE platform.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1",
            &[&key],
        )
        .await
        .unwrap();
    assert_eq!(
        expired_rows, 2,
        "the public and the tenant record of that key"
    );
    let expired = http
        .post(&url)
        .header("idempotency-key", &key)
        .json(&json!({ "label": "c" }))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 201);
    assert!(!expired.headers().contains_key("idempotent-replayed"));
    platform.stop().await;
}
