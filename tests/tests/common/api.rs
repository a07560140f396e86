//! Requests to the platform's API and reading their answers: the one copy of what every test
//! module used to define for itself (send, get, post with a fresh `Idempotency-Key`, patch with
//! `If-Match`, the body of an expected status), plus the outbox count most tests check.

use reqwest::{Method, Response};
use serde_json::Value;
use uuid::Uuid;

use super::TestPlatform;

/// `method` `path` with `token` as the bearer and `body` as JSON, if any.
pub async fn send(
    platform: &TestPlatform,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Response {
    let mut builder = platform.request(method, path, token);
    if let Some(body) = body {
        builder = builder.json(body);
    }
    builder.send().await.unwrap()
}

/// The body of `GET path`, which must answer 200.
pub async fn get(platform: &TestPlatform, token: &str, path: &str) -> Value {
    json_of(send(platform, Method::GET, path, token, None).await, 200).await
}

/// POSTs `body` with a fresh `Idempotency-Key`.
pub async fn post(platform: &TestPlatform, token: &str, path: &str, body: &Value) -> Response {
    platform
        .request(Method::POST, path, token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

/// PATCHes `body`, with `If-Match: if_match` when given.
pub async fn patch(
    platform: &TestPlatform,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Response {
    let mut builder = platform.request(Method::PATCH, path, token).json(body);
    if let Some(version) = if_match {
        builder = builder.header("if-match", version);
    }
    builder.send().await.unwrap()
}

/// The body of `response`, after checking its status.
pub async fn json_of(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A JSON string, owned.
pub fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// The `id` of an answered resource.
pub fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

/// How many events of `event_type` the tenant has in the outbox (admin SQL).
pub async fn events(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> i64 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM events.outbox WHERE tenant_id = $1 AND event_type = $2",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .get(0)
}

/// An untracked product of one variant at `price_minor`, as `POST /v1/products` answers it.
pub async fn untracked_product(
    platform: &TestPlatform,
    token: &str,
    name: &str,
    price_minor: i64,
) -> Value {
    let body =
        serde_json::json!({"name": name, "price_minor": price_minor, "track_inventory": false});
    json_of(post(platform, token, "/v1/products", &body).await, 201).await
}

/// Moves `tenant` to the `pro` plan (several locations), as a superuser.
pub async fn upgrade_to_pro(platform: &TestPlatform, tenant: Uuid) {
    platform
        .admin()
        .await
        .execute(
            "UPDATE platform.tenants SET plan = 'pro' WHERE id = $1",
            &[&tenant],
        )
        .await
        .unwrap();
}
