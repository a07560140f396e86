//! TOTP MFA through the whole platform: enrol, confirm (recovery codes), the login challenge,
//! verify with a code or a recovery code (replay and single use refused), the challenge's
//! tenant binding and expiry, lockout on wrong codes, and disabling — checked against the
//! database and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    Account, PASSWORD, TestPlatform, audit_count, post_login, problem, tenant, user_named,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// An active owner of a new tenant `slug`, password [`PASSWORD`].
async fn account(platform: &TestPlatform, slug: &str) -> Account {
    let tenant = tenant(platform, slug).await;
    let email = format!("owner@{slug}.example");
    let user = user_named(platform, tenant, &email, "Owner", "owner").await;
    Account {
        tenant,
        slug: slug.to_owned(),
        user,
        email,
    }
}

async fn post(platform: &TestPlatform, path: &str, body: &Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_as(
    platform: &TestPlatform,
    access: &str,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = platform.http.post(platform.url(path)).bearer_auth(access);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn login(platform: &TestPlatform, account: &Account) -> reqwest::Response {
    post_login(
        platform,
        &account.slug,
        &account.email,
        PASSWORD,
        Some("till-1"),
        None,
    )
    .await
}

/// Logs in and expects tokens.
async fn login_tokens(platform: &TestPlatform, account: &Account) -> Value {
    let response = login(platform, account).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    body
}

/// Logs in and expects an MFA challenge (and no tokens).
async fn login_challenge(platform: &TestPlatform, account: &Account) -> String {
    let response = login(platform, account).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = body["challenge_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ott_"), "{token}");
    token
}

async fn verify(platform: &TestPlatform, body: &Value) -> reqwest::Response {
    post(platform, "/v1/auth/mfa/verify", body).await
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn totp(secret: &str) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
}

/// The code of the step `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let time = unix_now().checked_add_signed(offset * 30).unwrap();
    totp(secret).generate(time).to_string()
}

/// Six digits that match no step the server accepts now.
fn wrong_code(secret: &str) -> String {
    let valid: Vec<String> = (-2..=2).map(|o| code(secret, o)).collect();
    (0..10)
        .map(|d| d.to_string().repeat(6))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// Waits until at least 5 s of the current 30 s step remain, so a code computed now is
/// judged by the server in the same step.
async fn fresh_step() {
    let left = 30 - unix_now() % 30;
    if left < 5 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

/// Enrols and confirms TOTP for the account (signed in with `access`); returns the secret and
/// the recovery codes. Confirms with the previous step's code, so the current one is still
/// unused for the next sign-in.
async fn enable_mfa(platform: &TestPlatform, access: &str) -> (String, Vec<String>) {
    let response = post_as(platform, access, "/v1/auth/mfa/totp", None).await;
    assert_eq!(response.status(), 200);
    let enrolment: Value = response.json().await.unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    fresh_step().await;
    let response = post_as(
        platform,
        access,
        "/v1/auth/mfa/totp/confirm",
        Some(&json!({ "code": code(&secret, -1) })),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn failed_logins(platform: &TestPlatform, user: Uuid) -> i32 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT failed_logins FROM auth.users WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_confirm_challenge_verify_recover_and_disable() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-mfa").await;
    let tokens = login_tokens(&platform, &a).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // Enrol: a base32 secret of 20 bytes and the otpauth URI; enrolling again (still
    // unconfirmed) replaces the secret.
    let response = post_as(&platform, &access, "/v1/auth/mfa/totp", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let first: Value = response.json().await.unwrap();
    let response = post_as(&platform, &access, "/v1/auth/mfa/totp", None).await;
    assert_eq!(response.status(), 200);
    let enrolment: Value = response.json().await.unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert_ne!(first["secret"], enrolment["secret"]);
    assert_eq!(secret.len(), 32);
    assert_eq!(
        totp_rs::Secret::try_from_base32(&secret)
            .unwrap()
            .as_bytes()
            .len(),
        20
    );
    assert_eq!(
        enrolment["otpauth_uri"],
        format!(
            "otpauth://totp/Olympus:owner@bistro-mfa.example?secret={secret}&issuer=Olympus\
             &algorithm=SHA1&digits=6&period=30"
        )
    );
    // Not active yet: login still answers tokens.
    login_tokens(&platform, &a).await;

    // Confirm: a wrong code is 422 and changes nothing; the right one gives 10 recovery codes.
    fresh_step().await;
    problem(
        post_as(
            &platform,
            &access,
            "/v1/auth/mfa/totp/confirm",
            Some(&json!({ "code": wrong_code(&secret) })),
        )
        .await,
        422,
        "invalid_code",
    )
    .await;
    let response = post_as(
        &platform,
        &access,
        "/v1/auth/mfa/totp/confirm",
        Some(&json!({ "code": code(&secret, -1) })),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let recovery: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    for c in &recovery {
        assert_eq!(c.len(), 11, "{c}");
        assert_eq!(&c[5..6], "-", "{c}");
    }
    let mut distinct = recovery.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    let admin = platform.admin().await;
    let stored: Vec<Vec<u8>> = admin
        .query(
            "SELECT code_hash FROM auth.recovery_codes WHERE user_id = $1",
            &[&a.user],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|h| h.len() == 32));
    assert!(
        stored
            .iter()
            .all(|h| !recovery.iter().any(|c| c.as_bytes() == h.as_slice()))
    );

    // Already enabled: enrolling or confirming again is a conflict.
    problem(
        post_as(&platform, &access, "/v1/auth/mfa/totp", None).await,
        409,
        "mfa_already_enabled",
    )
    .await;
    problem(
        post_as(
            &platform,
            &access,
            "/v1/auth/mfa/totp/confirm",
            Some(&json!({ "code": code(&secret, 0) })),
        )
        .await,
        409,
        "mfa_already_enabled",
    )
    .await;

    // Logout; the password alone now earns a challenge, not a session.
    let response = post_as(&platform, &access, "/v1/auth/logout", None).await;
    assert_eq!(response.status(), 204);
    let sessions_before: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.sessions WHERE user_id = $1",
            &[&a.user],
        )
        .await
        .unwrap()
        .get(0);
    let challenge = login_challenge(&platform, &a).await;
    let sessions_after: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.sessions WHERE user_id = $1",
            &[&a.user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sessions_before, sessions_after);

    // A wrong code: 401, counted, the challenge stays usable.
    fresh_step().await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "code": wrong_code(&secret) }),
        )
        .await,
        401,
        "invalid_code",
    )
    .await;
    assert_eq!(failed_logins(&platform, a.user).await, 1);

    // The current code: tokens for a new `mfa` session with the login's device label.
    let current = code(&secret, 0);
    let response = verify(
        &platform,
        &json!({ "challenge_token": challenge, "code": current }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("ort_")
    );
    assert_eq!(failed_logins(&platform, a.user).await, 0);
    let session = Uuid::parse_str(tokens["session_id"].as_str().unwrap()).unwrap();
    let row = admin
        .query_one(
            "SELECT method, device, user_id FROM auth.sessions WHERE id = $1",
            &[&session],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "mfa");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("till-1"));
    assert_eq!(row.get::<_, Uuid>(2), a.user);
    let me = platform
        .http
        .get(platform.url("/v1/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // The challenge is spent; the same code on a new challenge is a replay.
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "code": current }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;
    let challenge = login_challenge(&platform, &a).await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "code": current }),
        )
        .await,
        401,
        "invalid_code",
    )
    .await;

    // A recovery code works once (typed loosely), then never again.
    let response = verify(
        &platform,
        &json!({ "challenge_token": challenge, "recovery_code": recovery[0] }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let by_recovery: Value = response.json().await.unwrap();
    assert!(by_recovery["access_token"].is_string());
    let challenge = login_challenge(&platform, &a).await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "recovery_code": recovery[0] }),
        )
        .await,
        401,
        "invalid_code",
    )
    .await;
    let loose = format!(" {} ", recovery[1].replace('-', " ").to_uppercase());
    let response = verify(
        &platform,
        &json!({ "challenge_token": challenge, "recovery_code": loose }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let used: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL",
            &[&a.user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(used, 2);

    // Disable: the password is checked again; then TOTP and recovery codes are gone.
    let access = tokens["access_token"].as_str().unwrap();
    let disable = |password: &str| {
        platform
            .http
            .delete(platform.url("/v1/auth/mfa/totp"))
            .bearer_auth(access)
            .json(&json!({ "password": password }))
            .send()
    };
    problem(
        disable("not the password").await.unwrap(),
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(disable(PASSWORD).await.unwrap().status(), 204);
    for table in ["auth.mfa_totp", "auth.recovery_codes"] {
        let left: i64 = admin
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE user_id = $1"),
                &[&a.user],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "{table}");
    }
    login_tokens(&platform, &a).await;

    for (action, expected) in [
        ("auth.mfa.enrolled", 2),
        ("auth.mfa.confirmed", 1),
        ("auth.mfa.challenged", 3),
        ("auth.mfa.verified", 3),
        ("auth.recovery_code.used", 2),
        ("auth.mfa.disabled", 1),
    ] {
        assert_eq!(
            audit_count(&platform, a.tenant, action).await,
            expected,
            "{action}"
        );
    }
    // Confirm wrong code, verify wrong code, replay, spent recovery code, disable password.
    assert_eq!(audit_count(&platform, a.tenant, "auth.mfa.failed").await, 5);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_are_bound_to_their_tenant_expire_and_wrong_codes_lock() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-a").await;
    let b = account(&platform, "bistro-b").await;
    let tokens = login_tokens(&platform, &a).await;
    let (secret, _) = enable_mfa(&platform, tokens["access_token"].as_str().unwrap()).await;

    // Malformed requests.
    let challenge = login_challenge(&platform, &a).await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": "nonsense", "code": "123456" }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "code": "123456", "recovery_code": "x" }),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;
    problem(
        verify(&platform, &json!({ "challenge_token": challenge })).await,
        422,
        "invalid_body",
    )
    .await;

    // A's challenge under B's tenant prefix is nobody's challenge.
    let forged = challenge.replacen(
        &a.tenant.simple().to_string(),
        &b.tenant.simple().to_string(),
        1,
    );
    assert_ne!(forged, challenge);
    fresh_step().await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": forged, "code": code(&secret, 0) }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;

    // An expired challenge is refused even with the right code.
    platform
        .admin()
        .await
        .execute(
            "UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second'
             WHERE user_id = $1 AND purpose = 'mfa_challenge' AND used_at IS NULL",
            &[&a.user],
        )
        .await
        .unwrap();
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": challenge, "code": code(&secret, 0) }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;

    // A newer challenge supersedes an older one.
    let older = login_challenge(&platform, &a).await;
    let challenge = login_challenge(&platform, &a).await;
    problem(
        verify(
            &platform,
            &json!({ "challenge_token": older, "code": code(&secret, 0) }),
        )
        .await,
        401,
        "invalid_token",
    )
    .await;

    // Wrong codes count toward the lockout shared with the password.
    for attempt in 1..=5 {
        problem(
            verify(
                &platform,
                &json!({ "challenge_token": challenge, "code": wrong_code(&secret) }),
            )
            .await,
            401,
            "invalid_code",
        )
        .await;
        assert_eq!(failed_logins(&platform, a.user).await, attempt);
    }
    let response = verify(
        &platform,
        &json!({ "challenge_token": challenge, "code": code(&secret, 0) }),
    )
    .await;
    let seconds: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&seconds), "{seconds}");
    problem(response, 429, "account_locked").await;
    problem(login(&platform, &a).await, 429, "account_locked").await;
    assert_eq!(
        audit_count(&platform, a.tenant, "auth.account.locked").await,
        1
    );

    // Once the lock has run out, the same (unconsumed) challenge works with a fresh code.
    platform
        .admin()
        .await
        .execute(
            "UPDATE auth.users SET locked_until = now() - interval '1 second' WHERE id = $1",
            &[&a.user],
        )
        .await
        .unwrap();
    fresh_step().await;
    let response = verify(
        &platform,
        &json!({ "challenge_token": challenge, "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(failed_logins(&platform, a.user).await, 0);

    // B, without MFA, is untouched by all of it.
    login_tokens(&platform, &b).await;
    platform.stop().await;
}
