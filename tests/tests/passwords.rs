//! Passwords and email verification through the whole platform: forgot → mail → reset (with
//! sessions revoked, lockout cleared, the address verified), no account enumeration on
//! `forgot`, change-password (other sessions revoked, the current one kept), email verification
//! end to end through the dev mailbox, and single-use tokens bound to their purpose and tenant —
//! each checked against the database and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::{
    Owner, PASSWORD, TestPlatform, eventually, post_login, problem, sign_up_with, signup_body,
};
use serde_json::{Value, json};
use uuid::Uuid;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Signs a business up and returns its owner with the sign-up session's tokens.
async fn sign_up(platform: &TestPlatform, slug: &str) -> Owner {
    sign_up_with(platform, &signup_body(slug, &format!("Shop {slug}"))).await
}

async fn post(
    platform: &TestPlatform,
    path: &str,
    body: &Value,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut request = platform.http.post(platform.url(path)).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn login(platform: &TestPlatform, owner: &Owner, password: &str) -> reqwest::Response {
    post_login(platform, &owner.slug, &owner.email, password, None, None).await
}

async fn refresh(platform: &TestPlatform, token: &str) -> reqwest::Response {
    post(
        platform,
        "/v1/auth/refresh",
        &json!({"refresh_token": token}),
        None,
    )
    .await
}

async fn forgot(platform: &TestPlatform, slug: &str, email: &str) -> (u16, String) {
    let response = post(
        platform,
        "/v1/auth/password/forgot",
        &json!({"tenant": slug, "email": email}),
        None,
    )
    .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn reset(platform: &TestPlatform, token: &str, password: &str) -> reqwest::Response {
    post(
        platform,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": password}),
        None,
    )
    .await
}

async fn verify(platform: &TestPlatform, token: &str) -> reqwest::Response {
    post(
        platform,
        "/v1/auth/email/verify",
        &json!({"token": token}),
        None,
    )
    .await
}

/// Every message in the dev mailbox (newest first), read over HTTP.
async fn mailbox(platform: &TestPlatform) -> Vec<Value> {
    let body: Value = platform
        .http
        .get(platform.url("/dev/mailbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["messages"].as_array().unwrap().clone()
}

/// Mails to `to` whose subject contains `subject`, newest first.
async fn mails_to(platform: &TestPlatform, to: &str, subject: &str) -> Vec<Value> {
    mailbox(platform)
        .await
        .into_iter()
        .filter(|m| {
            m["mail"]["to"] == to && m["mail"]["subject"].as_str().unwrap().contains(subject)
        })
        .collect()
}

/// Waits for the `n`-th mail to `to` with `subject` and returns the newest one's text.
async fn wait_for_mail(platform: &TestPlatform, to: &str, subject: &str, n: usize) -> String {
    eventually(Duration::from_secs(10), "the mail", || async {
        let mails = mails_to(platform, to, subject).await;
        (mails.len() >= n).then(|| mails[0]["mail"]["text"].as_str().unwrap().to_owned())
    })
    .await
}

/// The single-use token in a mail (the line holding it alone), checked against the link.
fn token_in(text: &str, page: &str) -> String {
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("ott_"))
        .expect("a token in the mail")
        .to_owned();
    assert!(
        text.contains(&format!("http://127.0.0.1:8080/{page}?token={token}")),
        "{text}"
    );
    token
}

/// The audit actions of a tenant, oldest first, with actor type, target and details.
async fn audit_rows(
    platform: &TestPlatform,
    tenant: Uuid,
) -> Vec<(String, String, Option<String>, Value)> {
    platform
        .admin()
        .await
        .query(
            "SELECT action, actor_type, target_id, details FROM audit.events
             WHERE tenant_id = $1 ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn find<'a>(
    audit: &'a [(String, String, Option<String>, Value)],
    action: &str,
) -> Vec<&'a (String, String, Option<String>, Value)> {
    audit.iter().filter(|(a, ..)| a == action).collect()
}

async fn outbox_count(platform: &TestPlatform, event_type: &str) -> i64 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM events.outbox WHERE event_type = $1",
            &[&event_type],
        )
        .await
        .unwrap()
        .get(0)
}

async fn email_verified(platform: &TestPlatform, user: Uuid) -> bool {
    platform
        .admin()
        .await
        .query_one(
            "SELECT email_verified_at IS NOT NULL FROM auth.users WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_mail_reset_revokes_sessions_and_the_token_works_once() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "reset-diner").await;
    let second = login(&platform, &owner, PASSWORD).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    // Lock the account: a reset must clear the lockout.
    for _ in 0..5 {
        assert_eq!(
            login(&platform, &owner, "wrong password!!").await.status(),
            401
        );
    }
    problem(
        login(&platform, &owner, PASSWORD).await,
        429,
        "account_locked",
    )
    .await;
    assert!(!email_verified(&platform, owner.user).await);

    let (status, _) = forgot(&platform, " Reset-Diner ", " OWNER@reset-diner.example ").await;
    assert_eq!(status, 202);
    let text = wait_for_mail(&platform, &owner.email, "Reset your Olympus password", 1).await;
    let token = token_in(&text, "reset-password");
    assert!(
        token.starts_with(&format!("ott_{}_", owner.tenant.simple())),
        "{token}"
    );
    assert!(text.contains("Olga Owner"), "{text}");
    assert!(text.contains("Shop reset-diner"), "{text}");
    // Only the hash is stored.
    let stored: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM auth.one_time_tokens
             WHERE tenant_id = $1 AND purpose = 'password_reset' AND used_at IS NULL
               AND details::text NOT LIKE '%ott_%'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);

    // A weak password is refused before the token is spent.
    problem(
        reset(&platform, &token, "short").await,
        422,
        "weak_password",
    )
    .await;
    let response = reset(&platform, &token, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);

    // The old password is gone, the new one works (and the lockout is cleared).
    problem(
        login(&platform, &owner, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(login(&platform, &owner, NEW_PASSWORD).await.status(), 200);
    // Every session opened before the reset is revoked.
    problem(
        refresh(&platform, &owner.refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(
        refresh(&platform, second["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Following the link proved the mailbox.
    assert!(email_verified(&platform, owner.user).await);

    // The token works once.
    problem(
        reset(&platform, &token, "yet another passphrase").await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(login(&platform, &owner, NEW_PASSWORD).await.status(), 200);

    let audit = audit_rows(&platform, owner.tenant).await;
    let requested = find(&audit, "auth.password_reset.requested");
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].1, "anonymous");
    assert_eq!(
        requested[0].2.as_deref(),
        Some(owner.user.to_string().as_str())
    );
    assert!(!requested[0].3.to_string().contains("ott_"));
    let done = find(&audit, "auth.password.reset");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, "user");
    assert_eq!(done[0].3["sessions_revoked"], 2);
    assert_eq!(done[0].3["email_verified"], true);
    let reasons: Vec<String> = platform
        .admin()
        .await
        .query(
            "SELECT revoked_reason FROM auth.sessions WHERE user_id = $1 AND revoked_at IS NOT NULL",
            &[&owner.user],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons, vec!["password_reset", "password_reset"]);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_answers_the_same_for_unknown_accounts_and_sends_nothing() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "quiet-shop").await;
    // A deactivated colleague: no reset either.
    let admin = platform.admin().await;
    admin
        .execute(
            "INSERT INTO auth.users (id, tenant_id, email, name, status)
             VALUES ($1, $2, 'gone@quiet-shop.example', 'Gone', 'deactivated')",
            &[&Uuid::now_v7(), &owner.tenant],
        )
        .await
        .unwrap();

    let unknown_email = forgot(&platform, &owner.slug, "nobody@quiet-shop.example").await;
    let unknown_tenant = forgot(&platform, "no-such-shop", &owner.email).await;
    let deactivated = forgot(&platform, &owner.slug, "gone@quiet-shop.example").await;
    let empty = forgot(&platform, "", "").await;
    assert_eq!(unknown_email.0, 202);
    for other in [&unknown_tenant, &deactivated, &empty] {
        assert_eq!(other, &unknown_email);
    }
    assert_eq!(
        outbox_count(&platform, "auth.password_reset.requested").await,
        0
    );
    assert_eq!(
        platform
            .admin()
            .await
            .query_one("SELECT count(*) FROM auth.one_time_tokens", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        0
    );

    // The real one answers byte for byte the same, and mails.
    let real = forgot(&platform, &owner.slug, &owner.email).await;
    assert_eq!(real, unknown_email);
    wait_for_mail(&platform, &owner.email, "Reset", 1).await;
    // Asked again at once: the same answer, but no second token or mail (no mail flood).
    let again = forgot(&platform, &owner.slug, &owner.email).await;
    assert_eq!(again, unknown_email);
    assert_eq!(
        outbox_count(&platform, "auth.password_reset.requested").await,
        1
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = mailbox(&platform).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["mail"]["to"], owner.email.as_str());
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_needs_the_current_one_and_revokes_other_sessions() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "change-cafe").await;
    let other = login(&platform, &owner, PASSWORD).await;
    assert_eq!(other.status(), 200);
    let other: Value = other.json().await.unwrap();
    let path = "/v1/auth/password";

    problem(
        post(
            &platform,
            path,
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
            None,
        )
        .await,
        401,
        "missing_token",
    )
    .await;
    problem(
        post(
            &platform,
            path,
            &json!({"current_password": "not my password", "new_password": NEW_PASSWORD}),
            Some(&owner.token),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        post(
            &platform,
            path,
            &json!({"current_password": PASSWORD, "new_password": "short"}),
            Some(&owner.token),
        )
        .await,
        422,
        "weak_password",
    )
    .await;
    // A token whose session does not exist (minted, or revoked since) changes nothing.
    let stray = platform.token(owner.tenant, &["*"]);
    problem(
        post(
            &platform,
            path,
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
            Some(&stray),
        )
        .await,
        401,
        "session_closed",
    )
    .await;
    // Nothing changed so far.
    assert_eq!(login(&platform, &owner, PASSWORD).await.status(), 200);

    let response = post(
        &platform,
        path,
        &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        Some(&owner.token),
    )
    .await;
    assert_eq!(response.status(), 204);

    // The other sessions are revoked; the one that changed the password still refreshes.
    problem(
        refresh(&platform, other["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(refresh(&platform, &owner.refresh).await.status(), 200);
    problem(
        login(&platform, &owner, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(login(&platform, &owner, NEW_PASSWORD).await.status(), 200);

    let audit = audit_rows(&platform, owner.tenant).await;
    let failed = find(&audit, "auth.password.change_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].1, "user");
    assert_eq!(failed[0].3["reason"], "wrong_password");
    let changed = find(&audit, "auth.password.changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].2.as_deref(),
        Some(owner.user.to_string().as_str())
    );
    // The sign-up session is kept; the login session and the one used to check "nothing
    // changed" are revoked.
    assert_eq!(changed[0].3["sessions_revoked"], 2);
    assert!(
        !audit
            .iter()
            .any(|row| row.3.to_string().contains(NEW_PASSWORD))
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_end_to_end_through_the_mailbox() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "verify-bar").await;
    assert!(!email_verified(&platform, owner.user).await);
    let path = "/v1/auth/email/verification";

    problem(
        post(&platform, path, &json!({}), None).await,
        401,
        "missing_token",
    )
    .await;
    let response = post(&platform, path, &json!({}), Some(&owner.token)).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], owner.email.as_str());
    assert!(body["expires_at"].is_string());
    // Asked again at once: throttled, no second mail.
    let again = post(&platform, path, &json!({}), Some(&owner.token)).await;
    assert!(again.headers().contains_key("retry-after"));
    problem(again, 429, "verification_recently_sent").await;

    let text = wait_for_mail(&platform, &owner.email, "Confirm your email address", 1).await;
    let token = token_in(&text, "verify-email");
    assert!(text.contains(&owner.email), "{text}");

    problem(
        verify(&platform, "ott_nonsense").await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(verify(&platform, &token).await.status(), 204);
    assert!(email_verified(&platform, owner.user).await);
    problem(verify(&platform, &token).await, 400, "invalid_token").await;
    problem(
        post(&platform, path, &json!({}), Some(&owner.token)).await,
        409,
        "already_verified",
    )
    .await;

    let audit = audit_rows(&platform, owner.tenant).await;
    assert_eq!(find(&audit, "auth.email_verification.requested").len(), 1);
    let verified = find(&audit, "auth.email.verified");
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].1, "user");
    assert_eq!(
        verified[0].2.as_deref(),
        Some(owner.user.to_string().as_str())
    );
    assert_eq!(verified[0].3["email"], owner.email.as_str());
    assert_eq!(mails_to(&platform, &owner.email, "Confirm").await.len(), 1);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_bound_to_their_purpose_and_their_tenant() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "shop-a").await;
    let b = sign_up(&platform, "shop-b").await;

    let response = post(
        &platform,
        "/v1/auth/email/verification",
        &json!({}),
        Some(&a.token),
    )
    .await;
    assert_eq!(response.status(), 202);
    let verification = token_in(
        &wait_for_mail(&platform, &a.email, "Confirm", 1).await,
        "verify-email",
    );
    assert_eq!(forgot(&platform, &a.slug, &a.email).await.0, 202);
    let reset_token = token_in(
        &wait_for_mail(&platform, &a.email, "Reset", 1).await,
        "reset-password",
    );

    // A token of one purpose does nothing at the other endpoint (and is not spent).
    problem(
        reset(&platform, &verification, NEW_PASSWORD).await,
        400,
        "invalid_token",
    )
    .await;
    problem(verify(&platform, &reset_token).await, 400, "invalid_token").await;
    assert!(!email_verified(&platform, a.user).await);
    assert_eq!(login(&platform, &a, PASSWORD).await.status(), 200);

    // Tenant A's token with tenant B's id forged into it finds nothing.
    let forged = reset_token.replace(
        &a.tenant.simple().to_string(),
        &b.tenant.simple().to_string(),
    );
    assert_ne!(forged, reset_token);
    problem(
        reset(&platform, &forged, NEW_PASSWORD).await,
        400,
        "invalid_token",
    )
    .await;
    let forged_verification = verification.replace(
        &a.tenant.simple().to_string(),
        &b.tenant.simple().to_string(),
    );
    problem(
        verify(&platform, &forged_verification).await,
        400,
        "invalid_token",
    )
    .await;
    problem(
        reset(&platform, "garbage", NEW_PASSWORD).await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(login(&platform, &b, PASSWORD).await.status(), 200);
    assert!(
        find(
            &audit_rows(&platform, b.tenant).await,
            "auth.password.reset"
        )
        .is_empty()
    );

    // The genuine tokens still work, each at its own endpoint.
    assert_eq!(verify(&platform, &verification).await.status(), 204);
    assert_eq!(
        reset(&platform, &reset_token, NEW_PASSWORD).await.status(),
        204
    );
    assert_eq!(login(&platform, &a, NEW_PASSWORD).await.status(), 200);
    assert_eq!(login(&platform, &b, PASSWORD).await.status(), 200);
    platform.stop().await;
}
