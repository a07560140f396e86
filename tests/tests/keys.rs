//! The published verification keys through the whole platform: `GET /.well-known/jwks.json`
//! (public members only, cacheable, usable to verify the platform's tokens), the discovery
//! document, and key rotation (a rotated-but-listed key still verifies, a removed one is 401
//! `unknown_key`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::TestPlatform;
use olympus::auth::{OPERATE, Verifier};
use olympus::testing::tokens::{self, TestKeys};
use serde_json::Value;
use uuid::Uuid;

const JWKS_PATH: &str = "/.well-known/jwks.json";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const CACHEABLE: &str = "public, max-age=300";
const PUBLIC_MEMBERS: &[&str] = &["kty", "crv", "x", "y", "kid", "alg", "use"];

/// GETs `path` without credentials; asserts a cacheable JSON 200 and returns the raw body.
async fn get_public_json(platform: &TestPlatform, path: &str) -> String {
    let response = platform.http.get(platform.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json", "GET {path}");
    assert_eq!(headers["cache-control"], CACHEABLE, "GET {path}");
    // The rest of the security headers are still there.
    assert_eq!(headers["x-content-type-options"], "nosniff", "GET {path}");
    response.text().await.unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// A token for `tenant` with `perms`, signed by `keys`, valid for the platform's issuer.
fn mint(platform: &TestPlatform, keys: &TestKeys, tenant: Uuid, perms: &[&str]) -> String {
    let config = platform.platform.state.config();
    let claims = tokens::claims(
        tenant,
        Uuid::now_v7(),
        perms,
        &config.auth_issuer,
        &config.auth_audience,
    );
    keys.mint(&claims).unwrap()
}

/// `GET /v1/admin/dead-letters` with `token`: status and body.
async fn dead_letters(platform: &TestPlatform, token: &str) -> (u16, Value) {
    let response = platform
        .http
        .get(platform.url("/v1/admin/dead-letters"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_is_public_cacheable_and_verifies_the_platforms_tokens() {
    let platform = TestPlatform::start(None).await;

    let body = get_public_json(&platform, JWKS_PATH).await;
    let jwks: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(kids(&jwks), vec![platform.keys.kid().to_owned()]);
    for key in jwks["keys"].as_array().unwrap() {
        for member in key.as_object().unwrap().keys() {
            assert!(
                PUBLIC_MEMBERS.contains(&member.as_str()),
                "non-public member {member:?} published: {body}"
            );
        }
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
    }
    assert!(!body.contains(r#""d""#), "{body}");

    // What is published is enough to verify the platform's tokens (what a relying party does).
    let config = platform.platform.state.config();
    let relying_party =
        Verifier::from_jwks_json(&body, &config.auth_issuer, &config.auth_audience).unwrap();
    let token = platform.token(Uuid::now_v7(), &["orders:read"]);
    relying_party.verify(&token).unwrap();

    // Repeated requests serve the same (cached) document.
    assert_eq!(get_public_json(&platform, JWKS_PATH).await, body);

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_configuration_names_the_issuer_and_its_served_jwks() {
    let platform = TestPlatform::start(None).await;
    let issuer = platform.platform.state.config().auth_issuer.clone();

    let doc: Value =
        serde_json::from_str(&get_public_json(&platform, DISCOVERY_PATH).await).unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    let base = issuer.trim_end_matches('/');
    assert_eq!(doc["jwks_uri"], format!("{base}{JWKS_PATH}"));
    assert_eq!(doc["token_endpoint"], format!("{base}/v1/auth/refresh"));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!([]));

    // The jwks_uri's path is the one the platform serves.
    let path = doc["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(base)
        .unwrap()
        .to_owned();
    get_public_json(&platform, &path).await;

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_urls_drop_a_trailing_slash_of_the_issuer_but_keep_the_issuer_exact() {
    let issuer = "https://id.olympus.test/".to_owned();
    let platform = common::start_with_env(None, &[("AUTH_ISSUER", issuer.clone())]).await;

    let doc: Value =
        serde_json::from_str(&get_public_json(&platform, DISCOVERY_PATH).await).unwrap();
    // `issuer` must equal the tokens' `iss` (OpenID Connect Discovery §4.3), slash included.
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(
        doc["jwks_uri"],
        "https://id.olympus.test/.well-known/jwks.json"
    );
    assert_eq!(
        doc["token_endpoint"],
        "https://id.olympus.test/v1/auth/refresh"
    );

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_still_verifies_and_a_removed_key_is_unknown() {
    // Rotation in progress: the old ES256 key is still listed, the new EdDSA key signs.
    let old = TestKeys::es256("rotation-old").unwrap();
    let new = TestKeys::ed25519("rotation-new").unwrap();
    let removed = TestKeys::es256("rotation-removed").unwrap();
    let platform = common::start_with_env(
        None,
        &[
            ("AUTH_JWKS", tokens::jwks_json(&[&old, &new])),
            ("AUTH_SIGNING_KEY", common::signing_key(&new)),
            ("AUTH_SIGNING_KEY_ID", new.kid().to_owned()),
            ("AUTH_SIGNING_ALG", "EdDSA".to_owned()),
        ],
    )
    .await;
    let operator = platform.operator_tenant;

    // Both listed keys are published, nothing else (the harness key is not in this set).
    let jwks: Value = serde_json::from_str(&get_public_json(&platform, JWKS_PATH).await).unwrap();
    assert_eq!(kids(&jwks), vec!["rotation-new", "rotation-old"]);

    // A token signed by the rotated-out key, still listed, is accepted.
    let (status, body) =
        dead_letters(&platform, &mint(&platform, &old, operator, &[OPERATE])).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["items"].is_array(), "{body}");

    // So is one the platform itself signs now (the new key, by its signer).
    let signer = platform.platform.state.signer().unwrap();
    assert_eq!(signer.kid(), new.kid());
    let claims = signer.claims(
        operator,
        Uuid::now_v7(),
        None,
        Vec::new(),
        vec![OPERATE.to_owned()],
        None,
    );
    let (status, body) = dead_letters(&platform, &signer.sign(&claims).unwrap()).await;
    assert_eq!(status, 200, "{body}");

    // A key that left the set: 401 unknown_key, however valid its signature and claims.
    for gone in [&removed, &platform.keys] {
        let (status, body) =
            dead_letters(&platform, &mint(&platform, gone, operator, &[OPERATE])).await;
        assert_eq!(status, 401, "kid {}: {body}", gone.kid());
        assert_eq!(body["code"], "unknown_key", "kid {}: {body}", gone.kid());
    }

    platform.stop().await;
}
