//! Verifier and extractor tests with real keys from `testing::tokens` (feature `testing`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use super::*;
use crate::config::{Config, ConfigError, Env};
use crate::error::{Error, PROBLEM_JSON};
use crate::state::AppState;
use crate::testing::tokens::{self, TestKeys};

const ISS: &str = "https://auth.test.olympus";
const AUD: &str = "olympus-test";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn es256(kid: &str) -> TestKeys {
    TestKeys::es256(kid).unwrap()
}

fn verifier(keys: &[&TestKeys]) -> Verifier {
    tokens::verifier(keys, ISS, AUD).unwrap()
}

fn claims() -> AccessClaims {
    tokens::claims(Uuid::now_v7(), Uuid::now_v7(), &["orders:read"], ISS, AUD)
}

/// Claims as JSON, for tokens whose claims are deliberately wrong.
fn claims_json() -> Value {
    serde_json::to_value(claims()).unwrap()
}

fn code(result: Result<Principal, Error>) -> String {
    let err = result.expect_err("the token should have been rejected");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED, "{err}");
    err.code().to_owned()
}

/// A token from hand-made parts, for headers no signing library would produce.
fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

// --- accepted tokens ---------------------------------------------------------------------------

#[test]
fn valid_es256_token_yields_the_principal() {
    let keys = es256("k1");
    let mut claims = claims();
    claims.roles = vec!["manager".into()];
    claims.locs = Some(vec![Uuid::now_v7()]);
    let token = keys.mint(&claims).unwrap();
    let principal = verifier(&[&keys]).verify(&token).unwrap();
    assert_eq!(principal.tenant_id, claims.tid);
    assert_eq!(principal.user_id, claims.sub);
    assert_eq!(principal.session_id, claims.sid);
    assert_eq!(principal.roles, vec!["manager"]);
    assert_eq!(principal.permissions, vec!["orders:read"]);
    assert_eq!(principal.locations, claims.locs);
    assert_eq!(verifier(&[&keys]).verify_claims(&token).unwrap(), claims);
}

#[test]
fn valid_eddsa_token_is_accepted() {
    let keys = TestKeys::ed25519("ed").unwrap();
    let claims = claims();
    let token = keys.mint(&claims).unwrap();
    let principal = verifier(&[&keys]).verify(&token).unwrap();
    assert_eq!(principal.user_id, claims.sub);
}

#[test]
fn small_clock_skew_is_tolerated() {
    let keys = es256("k1");
    let mut claims = claims();
    claims.exp = now() - 10;
    claims.nbf = Some(now() + 10);
    let token = keys.mint(&claims).unwrap();
    assert!(verifier(&[&keys]).verify(&token).is_ok());
}

// --- rotation ----------------------------------------------------------------------------------

#[test]
fn both_keys_verify_during_rotation_and_a_removed_key_is_unknown() {
    let old = es256("2025-01");
    let new = TestKeys::ed25519("2025-02").unwrap();
    let old_token = old.mint(&claims()).unwrap();
    let new_token = new.mint(&claims()).unwrap();

    let rotating = verifier(&[&old, &new]);
    assert_eq!(rotating.key_ids(), vec!["2025-01", "2025-02"]);
    assert!(rotating.verify(&old_token).is_ok());
    assert!(rotating.verify(&new_token).is_ok());

    let rotated = verifier(&[&new]);
    assert_eq!(code(rotated.verify(&old_token)), "unknown_key");
    assert!(rotated.verify(&new_token).is_ok());
}

// --- rejected tokens ---------------------------------------------------------------------------

#[test]
fn alg_none_is_rejected_in_any_spelling() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    for alg in ["none", "None", "NONE"] {
        let token = raw_token(&json!({"alg": alg, "kid": "k1"}), &claims_json(), b"");
        assert_eq!(code(verifier.verify(&token)), "invalid_token", "{alg}");
        // Even with a (meaningless) signature segment.
        let token = raw_token(&json!({"alg": alg, "kid": "k1"}), &claims_json(), b"sig");
        assert_eq!(code(verifier.verify(&token)), "invalid_token", "{alg}");
    }
}

#[test]
fn hmac_tokens_are_rejected_even_when_keyed_with_the_public_key() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let jwk = keys.public_jwk();
    let jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        panic!("ES256 key without EC parameters");
    };
    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(&ec.x).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(&ec.y).unwrap());
    // Every form an attacker could guess the "secret" to be: the raw point, the JWK, the JWKS.
    let secrets: Vec<Vec<u8>> = vec![
        point,
        serde_json::to_vec(&jwk).unwrap(),
        tokens::jwks_json(&[&keys]).into_bytes(),
    ];
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for secret in &secrets {
            let mut header = Header::new(alg);
            header.kid = Some("k1".into());
            let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret))
                .unwrap();
            assert_eq!(code(verifier.verify(&token)), "invalid_token", "{alg:?}");
        }
    }
}

#[test]
fn other_algorithms_are_rejected() {
    let verifier = verifier(&[&es256("k1")]);
    for alg in ["RS256", "PS256", "ES384", "ES512", "", "es256"] {
        let token = raw_token(&json!({"alg": alg, "kid": "k1"}), &claims_json(), b"sig");
        assert_eq!(code(verifier.verify(&token)), "invalid_token", "{alg}");
    }
}

#[test]
fn header_alg_must_match_the_keys_alg() {
    let ec = es256("ec");
    let ed = TestKeys::ed25519("ed").unwrap();
    let verifier = verifier(&[&ec, &ed]);
    // Signed correctly by the EC key, but names the Ed25519 key's kid.
    let mut header = ec.header();
    header.kid = Some("ed".into());
    let token = ec.sign(&header, &claims()).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_token");
    // And the other way round.
    let mut header = ed.header();
    header.kid = Some("ec".into());
    let token = ed.sign(&header, &claims()).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_token");
}

#[test]
fn missing_kid_is_rejected() {
    let keys = es256("k1");
    let mut header = keys.header();
    header.kid = None;
    let token = keys.sign(&header, &claims()).unwrap();
    assert_eq!(code(verifier(&[&keys]).verify(&token)), "invalid_token");
}

#[test]
fn unknown_kid_is_rejected() {
    let keys = es256("k1");
    let stranger = es256("k2");
    let token = stranger.mint(&claims()).unwrap();
    assert_eq!(code(verifier(&[&keys]).verify(&token)), "unknown_key");
}

#[test]
fn bad_signatures_are_rejected() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    // Another key's signature under our kid.
    let impostor = es256("k1");
    let token = impostor.mint(&claims()).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_signature");
    // Our signature over different claims: swap the payload for an escalated one.
    let token = keys.mint(&claims()).unwrap();
    let mut escalated = claims_json();
    escalated["perms"] = json!(["*"]);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(escalated.to_string()),
        parts[2]
    );
    assert_eq!(code(verifier.verify(&forged)), "invalid_signature");
    // A well-formed but wrong signature (all zeros), and one of the wrong length.
    for signature in [[0u8; 64].as_slice(), [1u8; 32].as_slice()] {
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        );
        assert_eq!(code(verifier.verify(&forged)), "invalid_signature");
    }
}

#[test]
fn expired_token_is_rejected() {
    let keys = es256("k1");
    let mut claims = claims();
    claims.iat = now() - 3600;
    claims.exp = now() - 120;
    let token = keys.mint(&claims).unwrap();
    assert_eq!(code(verifier(&[&keys]).verify(&token)), "token_expired");
}

#[test]
fn a_remembered_token_still_expires() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let mut claims = claims();
    // Valid for about one more second of leeway.
    claims.exp = now() - i64::try_from(LEEWAY_SECONDS).unwrap() + 1;
    let token = keys.mint(&claims).unwrap();
    assert!(verifier.verify(&token).is_ok());
    assert!(verifier.verify(&token).is_ok(), "the remembered answer");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(code(verifier.verify(&token)), "token_expired");
}

#[test]
fn remembering_a_token_does_not_vouch_for_its_forgeries() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let token = keys.mint(&claims()).unwrap();
    assert!(verifier.verify(&token).is_ok());
    let parts: Vec<&str> = token.split('.').collect();
    let mut escalated = claims_json();
    escalated["perms"] = json!(["*"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(escalated.to_string()),
        parts[2]
    );
    assert_eq!(code(verifier.verify(&forged)), "invalid_signature");
    // Another verifier (another key set) remembers nothing of this one.
    let other = self::verifier(&[&es256("k1")]);
    assert_eq!(code(other.verify(&token)), "invalid_signature");
    assert!(verifier.verify(&token).is_ok());
}

#[test]
fn token_not_yet_valid_is_rejected() {
    let keys = es256("k1");
    let mut claims = claims();
    claims.nbf = Some(now() + 300);
    let token = keys.mint(&claims).unwrap();
    assert_eq!(
        code(verifier(&[&keys]).verify(&token)),
        "token_not_yet_valid"
    );
}

#[test]
fn wrong_or_missing_issuer_is_rejected() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let mut claims = claims();
    claims.iss = "https://evil.example".into();
    let token = keys.mint(&claims).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_issuer");
    let mut value = claims_json();
    value.as_object_mut().unwrap().remove("iss");
    let token = keys.sign(&keys.header(), &value).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_issuer");
}

#[test]
fn wrong_or_missing_audience_is_rejected() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let mut claims = claims();
    claims.aud = "another-service".into();
    let token = keys.mint(&claims).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_audience");
    let mut value = claims_json();
    value.as_object_mut().unwrap().remove("aud");
    let token = keys.sign(&keys.header(), &value).unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_audience");
}

#[test]
fn missing_exp_and_malformed_claims_are_rejected() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    type Edit = Box<dyn Fn(&mut serde_json::Map<String, Value>)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("no exp", Box::new(|c| drop(c.remove("exp")))),
        (
            "exp as text",
            Box::new(|c| drop(c.insert("exp".into(), json!("soon")))),
        ),
        ("no tid", Box::new(|c| drop(c.remove("tid")))),
        (
            "sub not a uuid",
            Box::new(|c| drop(c.insert("sub".into(), json!("alice")))),
        ),
        ("no locs", Box::new(|c| drop(c.remove("locs")))),
        (
            "perms not a list",
            Box::new(|c| drop(c.insert("perms".into(), json!("*")))),
        ),
    ];
    for (case, edit) in cases {
        let mut value = claims_json();
        edit(value.as_object_mut().unwrap());
        let token = keys.sign(&keys.header(), &value).unwrap();
        assert_eq!(code(verifier.verify(&token)), "invalid_claims", "{case}");
    }
}

#[test]
fn malformed_tokens_are_rejected() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let valid = keys.mint(&claims()).unwrap();
    let long = "a".repeat(MAX_TOKEN_BYTES + 1);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.???.***",
        &format!("{valid}.extra"),
        &format!("{}.e30.", URL_SAFE_NO_PAD.encode("not json")),
        &long,
    ] {
        assert_eq!(code(verifier.verify(token)), "invalid_token", "{token:.40}");
    }
    // Correctly signed, but the claims are a JSON string rather than an object.
    let token = keys.sign(&keys.header(), &"x").unwrap();
    assert_eq!(code(verifier.verify(&token)), "invalid_token");
}

#[test]
fn critical_header_extensions_are_rejected() {
    let keys = es256("k1");
    let mut header = keys.header();
    header.crit = Some(vec!["exp".into()]);
    let token = keys.sign(&header, &claims()).unwrap();
    assert_eq!(code(verifier(&[&keys]).verify(&token)), "invalid_token");
}

#[test]
fn only_the_first_failure_is_reported() {
    // Unknown kid beats expiry: no claim is looked at before the key and signature are checked.
    let stranger = es256("k2");
    let mut claims = claims();
    claims.exp = now() - 3600;
    let token = stranger.mint(&claims).unwrap();
    assert_eq!(
        code(verifier(&[&es256("k1")]).verify(&token)),
        "unknown_key"
    );
}

#[test]
fn details_do_not_leak_key_material() {
    let keys = es256("k1");
    let verifier = verifier(&[&keys]);
    let jwks = tokens::jwks_json(&[&keys]);
    let document: Value = serde_json::from_str(&jwks).unwrap();
    let x = document["keys"][0]["x"].as_str().unwrap().to_owned();
    let impostor = es256("k1").mint(&claims()).unwrap();
    let err = verifier.verify(&impostor).unwrap_err();
    let body = serde_json::to_string(&err.problem()).unwrap();
    assert!(!body.contains(&x), "{body}");
    assert!(!format!("{verifier:?}").contains(&x));
}

// --- configuration -----------------------------------------------------------------------------

fn config(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from(&Env::from_fn(|k| vars.get(k).cloned())).unwrap()
}

fn jwks_problem(json: &str) -> String {
    let err = Verifier::from_jwks_json(json, ISS, AUD).unwrap_err();
    let ConfigError::Invalid {
        var,
        value,
        problem,
    } = &err
    else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(var, "AUTH_JWKS");
    assert_eq!(value, "<jwks>");
    problem.clone()
}

#[test]
fn verifier_from_config_reads_auth_jwks() {
    let keys = es256("k1");
    let jwks = tokens::jwks_json(&[&keys]);
    let config = config(&[
        ("AUTH_JWKS", &jwks),
        ("AUTH_ISSUER", ISS),
        ("AUTH_AUDIENCE", AUD),
    ]);
    let verifier = Verifier::from_config(&config).unwrap();
    assert!(verifier.has_keys());
    assert_eq!(verifier.issuer(), ISS);
    assert!(verifier.verify(&keys.mint(&claims()).unwrap()).is_ok());
}

#[test]
fn without_auth_jwks_every_token_is_refused() {
    let keys = es256("k1");
    let config = config(&[("AUTH_ISSUER", ISS), ("AUTH_AUDIENCE", AUD)]);
    let verifier = Verifier::from_config(&config).unwrap();
    assert!(!verifier.has_keys());
    assert_eq!(
        code(verifier.verify(&keys.mint(&claims()).unwrap())),
        "unknown_key"
    );
    assert_eq!(
        code(Verifier::default().verify(&keys.mint(&claims()).unwrap())),
        "unknown_key"
    );
}

#[test]
fn symmetric_keys_are_a_config_error_that_does_not_echo_the_secret() {
    let problem = jwks_problem(
        r#"{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c3VwZXItc2VjcmV0LWtleQ"}]}"#,
    );
    assert!(problem.contains("symmetric"), "{problem}");
    assert!(!problem.contains("c3VwZXItc2VjcmV0LWtleQ"), "{problem}");
    // Through the typed constructor too.
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(
        r#"{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c3VwZXItc2VjcmV0LWtleQ"}]}"#,
    )
    .unwrap();
    assert!(Verifier::new(jwks, ISS, AUD).is_err());
}

#[test]
fn keys_without_kid_are_a_config_error() {
    let keys = es256("k1");
    let mut jwk = keys.public_jwk();
    jwk.common.key_id = None;
    let jwks = json!({ "keys": [jwk] }).to_string();
    assert!(jwks_problem(&jwks).contains("kid"));
    jwk.common.key_id = Some(String::new());
    let jwks = json!({ "keys": [jwk] }).to_string();
    assert!(jwks_problem(&jwks).contains("kid"));
}

#[test]
fn other_algorithms_and_key_types_are_config_errors() {
    let keys = es256("k1");
    let good: Value = serde_json::to_value(keys.public_jwk()).unwrap();
    let with = |key: &str, value: Value| {
        let mut jwk = good.clone();
        jwk[key] = value;
        json!({ "keys": [jwk] }).to_string()
    };
    for (case, jwks) in [
        ("alg HS256 on an EC key", with("alg", json!("HS256"))),
        ("alg ES384", with("alg", json!("ES384"))),
        ("alg EdDSA on an EC key", with("alg", json!("EdDSA"))),
        ("alg RS256", with("alg", json!("RS256"))),
        ("P-384 curve", with("crv", json!("P-384"))),
        ("encryption key", with("use", json!("enc"))),
        ("no verify op", with("key_ops", json!(["sign"]))),
        ("private member", with("d", json!("c2VjcmV0"))),
        (
            "bad point",
            with("x", json!(URL_SAFE_NO_PAD.encode([7u8; 32]))),
        ),
        ("short coordinate", with("y", json!("AAAA"))),
        (
            "RSA key",
            json!({"keys": [{"kty": "RSA", "kid": "r", "alg": "RS256", "n": "AQAB", "e": "AQAB"}]})
                .to_string(),
        ),
        (
            "unknown kty",
            json!({"keys": [{"kty": "XYZ", "kid": "z"}]}).to_string(),
        ),
        ("duplicate kid", tokens::jwks_json(&[&keys, &es256("k1")])),
        ("empty set", r#"{"keys": []}"#.to_owned()),
        ("not JSON", "{keys".to_owned()),
        ("not a JWKS", r#"{"kty": "EC"}"#.to_owned()),
        ("entry not an object", r#"{"keys": ["k1"]}"#.to_owned()),
    ] {
        let problem = jwks_problem(&jwks);
        assert!(!problem.contains("c2VjcmV0"), "{case}: {problem}");
    }
    // An alg-less key gets the one its curve implies.
    let mut jwk = good.clone();
    jwk.as_object_mut().unwrap().remove("alg");
    let verifier = Verifier::from_jwks_json(&json!({ "keys": [jwk] }).to_string(), ISS, AUD);
    assert!(
        verifier
            .unwrap()
            .verify(&keys.mint(&claims()).unwrap())
            .is_ok()
    );
}

#[test]
fn empty_issuer_or_audience_is_a_config_error() {
    let keys = es256("k1");
    let err = tokens::verifier(&[&keys], " ", AUD).unwrap_err();
    assert!(err.to_string().contains("AUTH_ISSUER"), "{err}");
    let err = tokens::verifier(&[&keys], ISS, "").unwrap_err();
    assert!(err.to_string().contains("AUTH_AUDIENCE"), "{err}");
}

#[test]
fn debug_names_key_ids_only() {
    let keys = es256("visible-kid");
    let text = format!("{:?}", verifier(&[&keys]));
    assert!(text.contains("visible-kid"), "{text}");
    assert!(!text.contains("x:"), "{text}");
}

// --- extractors --------------------------------------------------------------------------------

fn app(keys: &TestKeys) -> Router {
    let config = config(&[
        ("AUTH_JWKS", &tokens::jwks_json(&[keys])),
        ("AUTH_ISSUER", ISS),
        ("AUTH_AUDIENCE", AUD),
    ]);
    let state = AppState::from_config(config).unwrap();
    Router::new()
        .route(
            "/me",
            get(|principal: Principal| async move { principal.tenant_id.to_string() }),
        )
        .route(
            "/maybe",
            get(|principal: Option<Principal>| async move {
                principal.map_or_else(|| "anonymous".to_owned(), |p| p.user_id.to_string())
            }),
        )
        .route(
            "/orders",
            get(|principal: Principal| async move {
                principal.require("orders:write").map(|()| "ok")
            }),
        )
        .with_state(state)
}

async fn call(app: Router, uri: &str, authorization: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn missing_header_is_a_problem_json_401() {
    let keys = es256("k1");
    let response = app(&keys)
        .oneshot(Request::builder().uri("/me").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "missing_token");
    assert_eq!(problem["status"], 401);
}

#[tokio::test]
async fn bearer_token_is_verified_with_a_case_insensitive_scheme() {
    let keys = es256("k1");
    let claims = claims();
    let token = keys.mint(&claims).unwrap();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} {token}");
        let (status, _, body) = call(app(&keys), "/me", Some(&auth)).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert_eq!(body, claims.tid.to_string());
    }
}

#[tokio::test]
async fn other_schemes_and_bad_tokens_are_refused() {
    let keys = es256("k1");
    let token = keys.mint(&claims()).unwrap();
    for (auth, expected) in [
        ("Basic dXNlcjpwYXNz".to_owned(), "invalid_token"),
        (token.clone(), "invalid_token"),
        ("Bearer".to_owned(), "invalid_token"),
        ("Bearer ".to_owned(), "invalid_token"),
        (format!("Bearer {token} extra"), "invalid_token"),
        (
            format!("Bearer {}", es256("k9").mint(&claims()).unwrap()),
            "unknown_key",
        ),
    ] {
        let (status, content_type, body) = call(app(&keys), "/me", Some(&auth)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:.30}");
        assert_eq!(content_type, PROBLEM_JSON);
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["code"], expected, "{auth:.30}");
    }
}

#[tokio::test]
async fn optional_principal_is_none_without_header_but_invalid_tokens_still_fail() {
    let keys = es256("k1");
    let claims = claims();
    let (status, _, body) = call(app(&keys), "/maybe", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let auth = format!("Bearer {}", keys.mint(&claims).unwrap());
    let (status, _, body) = call(app(&keys), "/maybe", Some(&auth)).await;
    assert_eq!((status, body), (StatusCode::OK, claims.sub.to_string()));
    let (status, _, body) = call(app(&keys), "/maybe", Some("Bearer not.a.jwt")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_principal_in_the_extensions_is_used_as_is() {
    let keys = es256("k1");
    let principal = Principal::from(claims());
    let mut request = Request::builder().uri("/me").body(Body::empty()).unwrap();
    request.extensions_mut().insert(principal.clone());
    let response = app(&keys).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, principal.tenant_id.to_string());
}

#[tokio::test]
async fn missing_permission_is_a_403_naming_it() {
    let keys = es256("k1");
    let auth = format!("Bearer {}", keys.mint(&claims()).unwrap());
    let (status, content_type, body) = call(app(&keys), "/orders", Some(&auth)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(content_type, PROBLEM_JSON);
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "permission_denied");
    assert_eq!(problem["permission"], "orders:write");
}

#[test]
fn principal_from_headers_is_none_without_credentials() {
    let verifier = verifier(&[&es256("k1")]);
    let headers = axum::http::HeaderMap::new();
    assert!(
        principal_from_headers(&verifier, &headers)
            .unwrap()
            .is_none()
    );
    let mut twice = axum::http::HeaderMap::new();
    twice.append(header::AUTHORIZATION, "Bearer a".parse().unwrap());
    twice.append(header::AUTHORIZATION, "Bearer b".parse().unwrap());
    assert_eq!(
        principal_from_headers(&verifier, &twice)
            .unwrap_err()
            .code(),
        "invalid_token"
    );
}
