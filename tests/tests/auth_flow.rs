//! Identity, sign-in side, through the whole platform: login (no user enumeration, lockout,
//! per-IP throttle), me, refresh with rotation and reuse detection, logout, and the session
//! list and revocation — each checked against the database and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Account, PASSWORD, TestPlatform, account, post_login, problem, user};
use serde_json::{Value, json};
use uuid::Uuid;

async fn post(
    platform: &TestPlatform,
    path: &str,
    body: &Value,
    ip: Option<&str>,
) -> reqwest::Response {
    let mut request = platform.http.post(platform.url(path)).json(body);
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

async fn login_as(
    platform: &TestPlatform,
    slug: &str,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> reqwest::Response {
    post_login(platform, slug, email, password, Some("till-1"), ip).await
}

/// Logs in with the right password and returns the token response.
async fn login(platform: &TestPlatform, account: &Account) -> Value {
    let response = login_as(platform, &account.slug, &account.email, PASSWORD, None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh(platform: &TestPlatform, token: &Value) -> reqwest::Response {
    post(
        platform,
        "/v1/auth/refresh",
        &json!({ "refresh_token": token }),
        None,
    )
    .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The audit actions of a tenant, oldest first, with actor type and details.
async fn audit_rows(platform: &TestPlatform, tenant: Uuid) -> Vec<(String, String, Value)> {
    platform
        .admin()
        .await
        .query(
            "SELECT action, actor_type, details FROM audit.events WHERE tenant_id = $1
             ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn count(audit: &[(String, String, Value)], action: &str) -> usize {
    audit.iter().filter(|(a, _, _)| a == action).count()
}

async fn session_revoked(platform: &TestPlatform, session: &Value) -> bool {
    let id = Uuid::parse_str(session.as_str().unwrap()).unwrap();
    platform
        .admin()
        .await
        .query_one(
            "SELECT revoked_at IS NOT NULL FROM auth.sessions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_me_refresh_reuse_detection_and_logout() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-a", "owner").await;

    let tokens = login(&platform, &a).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let session = tokens["session_id"].clone();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let first_refresh = tokens["refresh_token"].clone();
    assert!(first_refresh.as_str().unwrap().starts_with("ort_"));

    // Me: the user row, the tenant, and the token's grants.
    let me: Value = platform
        .http
        .get(platform.url("/v1/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["id"], a.user.to_string());
    assert_eq!(me["user"]["email"], a.email);
    assert_eq!(me["user"]["status"], "active");
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["tenant"]["id"], a.tenant.to_string());
    assert_eq!(me["tenant"]["slug"], "bistro-a");
    assert_eq!(me["roles"], json!(["owner"]));
    assert_eq!(me["permissions"], json!(["*"]));
    assert_eq!(me["locations"], Value::Null);
    assert_eq!(me["session_id"], session);
    let anonymous = platform
        .http
        .get(platform.url("/v1/auth/me"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401, "missing_token").await;

    // Refresh rotates: new tokens, same session.
    let response = refresh(&platform, &first_refresh).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["session_id"], session);
    assert_ne!(second["refresh_token"], first_refresh);
    assert_ne!(second["access_token"], tokens["access_token"]);

    // Within the grace interval the old token still works (a client retrying)...
    let response = refresh(&platform, &first_refresh).await;
    assert_eq!(response.status(), 200);
    let third: Value = response.json().await.unwrap();
    assert_eq!(third["session_id"], session);

    // ...after it, presenting it again is reuse: the whole session dies.
    platform
        .admin()
        .await
        .execute(
            "UPDATE auth.refresh_tokens SET rotated_at = rotated_at - interval '1 minute'
             WHERE rotated_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap();
    problem(
        refresh(&platform, &first_refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
    problem(
        refresh(&platform, &third["refresh_token"]).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(
        refresh(&platform, &second["refresh_token"]).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert!(session_revoked(&platform, &session).await);
    let admin = platform.admin().await;
    let reason: String = admin
        .query_one(
            "SELECT revoked_reason FROM auth.sessions WHERE id = $1::text::uuid",
            &[&session.as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "refresh_token_reuse");
    let envelope: Value = admin
        .query_one(
            "SELECT envelope FROM events.outbox
             WHERE event_type = 'auth.session.reuse_detected' AND tenant_id = $1",
            &[&a.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(envelope["payload"]["session_id"], session);
    assert_eq!(envelope["payload"]["user_id"], a.user.to_string());

    // Logout of this session: its refresh token stops working.
    let tokens = login(&platform, &a).await;
    let response = platform
        .http
        .post(platform.url("/v1/auth/logout"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(session_revoked(&platform, &tokens["session_id"]).await);
    problem(
        refresh(&platform, &tokens["refresh_token"]).await,
        401,
        "invalid_refresh_token",
    )
    .await;

    // Logout everywhere: every session of the user.
    let one = login(&platform, &a).await;
    let two = login(&platform, &a).await;
    let response = platform
        .http
        .post(platform.url("/v1/auth/logout"))
        .bearer_auth(one["access_token"].as_str().unwrap())
        .json(&json!({ "all": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    for tokens in [&one, &two] {
        assert!(session_revoked(&platform, &tokens["session_id"]).await);
        problem(
            refresh(&platform, &tokens["refresh_token"]).await,
            401,
            "invalid_refresh_token",
        )
        .await;
    }

    // A credential without a session cannot log out of "this session".
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        a.tenant,
        a.user,
        &[],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.sid = None;
    let sessionless = platform.keys.mint(&claims).unwrap();
    let response = platform
        .http
        .post(platform.url("/v1/auth/logout"))
        .bearer_auth(&sessionless)
        .send()
        .await
        .unwrap();
    problem(response, 403, "session_required").await;

    // Refresh tokens of the wrong shape never reach the database.
    problem(
        refresh(&platform, &json!("not-a-token")).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let unknown = format!("ort_{}_{}", a.tenant.simple(), "x".repeat(43));
    problem(
        refresh(&platform, &json!(unknown)).await,
        401,
        "invalid_refresh_token",
    )
    .await;

    let audit = audit_rows(&platform, a.tenant).await;
    assert_eq!(count(&audit, "auth.login.succeeded"), 4, "{audit:?}");
    assert_eq!(count(&audit, "auth.session.refreshed"), 2, "{audit:?}");
    assert_eq!(count(&audit, "auth.session.reuse_detected"), 1, "{audit:?}");
    assert_eq!(count(&audit, "auth.logout"), 2, "{audit:?}");
    let logout_all = audit
        .iter()
        .find(|(a, _, d)| a == "auth.logout" && d["all"] == true)
        .unwrap();
    assert_eq!(logout_all.1, "user");
    assert_eq!(logout_all.2["sessions_revoked"], 2);

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_look_alike_and_five_of_them_lock_the_account() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-lock", "staff").await;
    let inactive = user(&platform, a.tenant, "gone@bistro-lock.example", "staff").await;
    platform
        .admin()
        .await
        .execute(
            "UPDATE auth.users SET status = 'deactivated' WHERE id = $1",
            &[&inactive],
        )
        .await
        .unwrap();

    // Unknown tenant, unknown email, wrong password, deactivated user (right password): the
    // same answer, byte for byte.
    let mut bodies = Vec::new();
    for (slug, email, password) in [
        ("no-such-tenant", a.email.as_str(), PASSWORD),
        ("bistro-lock", "nobody@bistro-lock.example", PASSWORD),
        ("bistro-lock", a.email.as_str(), "wrong password 1"),
        ("bistro-lock", "gone@bistro-lock.example", PASSWORD),
    ] {
        let response = login_as(&platform, slug, email, password, None).await;
        assert_eq!(response.status(), 401, "{slug} {email}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        bodies.push(response.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let body: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(body["code"], "invalid_credentials");

    // Four more wrong passwords: the fifth consecutive failure locks the account.
    for n in 2..=5 {
        let response = login_as(
            &platform,
            &a.slug,
            &a.email,
            &format!("wrong password {n}"),
            None,
        )
        .await;
        problem(response, 401, "invalid_credentials").await;
    }
    let admin = platform.admin().await;
    let row = admin
        .query_one(
            "SELECT failed_logins, locked_until > now() + interval '14 minutes'
             FROM auth.users WHERE id = $1",
            &[&a.user],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 5);
    assert!(row.get::<_, bool>(1));

    // Locked: even the right password gets 429 with Retry-After.
    let response = login_as(&platform, &a.slug, &a.email, PASSWORD, None).await;
    let seconds = retry_after(&response);
    assert!((840..=900).contains(&seconds), "{seconds}");
    let body = problem(response, 429, "account_locked").await;
    assert_eq!(body["retry_after"], seconds);

    // Once the lock has run out, the right password works and resets the counter.
    admin
        .execute(
            "UPDATE auth.users SET locked_until = now() - interval '1 second' WHERE id = $1",
            &[&a.user],
        )
        .await
        .unwrap();
    let tokens = login(&platform, &a).await;
    assert!(tokens["access_token"].is_string());
    let row = admin
        .query_one(
            "SELECT failed_logins, locked_until IS NULL FROM auth.users WHERE id = $1",
            &[&a.user],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 0);
    assert!(row.get::<_, bool>(1));

    // The failures were committed although the answers were errors.
    let failures: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.login_failures WHERE tenant_id = $1",
            &[&a.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        failures, 7,
        "unknown email + deactivated + five wrong passwords"
    );

    let audit = audit_rows(&platform, a.tenant).await;
    let reasons: Vec<(&str, &str)> = audit
        .iter()
        .filter(|(a, _, _)| a == "auth.login.failed")
        .map(|(_, actor, d)| (actor.as_str(), d["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("anonymous", "unknown_user"),
            ("user", "wrong_password"),
            ("user", "user_not_active"),
            ("user", "wrong_password"),
            ("user", "wrong_password"),
            ("user", "wrong_password"),
            ("user", "wrong_password"),
            ("user", "account_locked"),
        ]
    );
    assert_eq!(count(&audit, "auth.account.locked"), 1, "{audit:?}");
    assert_eq!(count(&audit, "auth.login.succeeded"), 1, "{audit:?}");

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_failures_from_one_ip_throttle_that_ip_for_the_tenant() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-ip", "staff").await;
    let admin = platform.admin().await;
    admin
        .execute(
            "INSERT INTO auth.login_failures (tenant_id, ip, failed_at)
             SELECT $1, '203.0.113.7'::inet, now() - make_interval(secs => n)
             FROM generate_series(1, 19) n",
            &[&a.tenant],
        )
        .await
        .unwrap();
    // Old failures fall out of the window.
    admin
        .execute(
            "INSERT INTO auth.login_failures (tenant_id, ip, failed_at)
             SELECT $1, '203.0.113.7'::inet, now() - interval '16 minutes'
             FROM generate_series(1, 30)",
            &[&a.tenant],
        )
        .await
        .unwrap();

    // The 20th failure is still an ordinary failure...
    let ip = Some("203.0.113.7");
    let response = login_as(&platform, &a.slug, &a.email, "wrong password", ip).await;
    problem(response, 401, "invalid_credentials").await;
    // ...after it, that IP is throttled for this tenant, right password or not.
    let response = login_as(&platform, &a.slug, &a.email, PASSWORD, ip).await;
    let seconds = retry_after(&response);
    assert!((1..=900).contains(&seconds), "{seconds}");
    problem(response, 429, "too_many_attempts").await;

    // Another IP is not.
    let response = login_as(&platform, &a.slug, &a.email, PASSWORD, Some("203.0.113.8")).await;
    assert_eq!(response.status(), 200);
    // Nor is the same IP against another tenant.
    let b = account(&platform, "bistro-ip-b", "staff").await;
    let response = login_as(&platform, &b.slug, &b.email, PASSWORD, ip).await;
    assert_eq!(response.status(), 200);

    let audit = audit_rows(&platform, a.tenant).await;
    assert!(
        audit
            .iter()
            .any(|(a, _, d)| a == "auth.login.failed" && d["reason"] == "too_many_attempts"),
        "{audit:?}"
    );

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_by_their_owner_or_an_admin_only() {
    let platform = TestPlatform::start(None).await;
    let a = account(&platform, "bistro-s", "staff").await;
    let colleague = user(&platform, a.tenant, "colleague@bistro-s.example", "staff").await;
    let boss = user(&platform, a.tenant, "boss@bistro-s.example", "admin").await;
    let b = account(&platform, "other-s", "owner").await;

    let first = login(&platform, &a).await;
    let second = login(&platform, &a).await;
    let bearer = second["access_token"].as_str().unwrap().to_owned();
    let list = |query: &'static str| {
        let request = platform
            .http
            .get(platform.url(&format!("/v1/auth/sessions{query}")))
            .bearer_auth(&bearer);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    // Newest first, the caller's session marked, paginated by cursor.
    let page = list("").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["id"], second["session_id"]);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[0]["device"], "till-1");
    assert_eq!(items[0]["ip"], "127.0.0.1");
    assert_eq!(items[1]["id"], first["session_id"]);
    assert_eq!(items[1]["current"], false);
    assert_eq!(page["next_cursor"], Value::Null);
    let page = list("?limit=1").await;
    assert_eq!(page["items"][0]["id"], second["session_id"]);
    assert_eq!(page["next_cursor"], second["session_id"]);
    let response = platform
        .http
        .get(platform.url(&format!(
            "/v1/auth/sessions?limit=1&cursor={}",
            second["session_id"].as_str().unwrap()
        )))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"][0]["id"], first["session_id"]);
    assert_eq!(page["next_cursor"], Value::Null);
    let response = platform
        .http
        .get(platform.url("/v1/auth/sessions?limit=0"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    problem(response, 422, "invalid_limit").await;

    // Revoking one's own session kills its refresh token.
    let delete = |id: &Value, token: &str| {
        platform
            .http
            .delete(platform.url(&format!("/v1/auth/sessions/{}", id.as_str().unwrap())))
            .bearer_auth(token)
            .send()
    };
    let response = delete(&first["session_id"], &bearer).await.unwrap();
    assert_eq!(response.status(), 204);
    problem(
        refresh(&platform, &first["refresh_token"]).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let page = list("").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page = list("?include_revoked=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[1]["revoked_at"].is_string());
    // Again: still 204, nothing new to audit.
    let response = delete(&first["session_id"], &bearer).await.unwrap();
    assert_eq!(response.status(), 204);

    // Another tenant's owner, a colleague without users:write, an unknown and a malformed id:
    // 404, and the session stays open.
    let b_tokens = login(&platform, &b).await;
    let colleague_tokens = login(
        &platform,
        &Account {
            tenant: a.tenant,
            slug: a.slug.clone(),
            user: colleague,
            email: "colleague@bistro-s.example".to_owned(),
        },
    )
    .await;
    for token in [&b_tokens, &colleague_tokens] {
        let response = delete(
            &second["session_id"],
            token["access_token"].as_str().unwrap(),
        )
        .await
        .unwrap();
        problem(response, 404, "not_found").await;
    }
    let response = delete(&json!(Uuid::now_v7().to_string()), &bearer)
        .await
        .unwrap();
    problem(response, 404, "not_found").await;
    let response = delete(&json!("not-a-uuid"), &bearer).await.unwrap();
    problem(response, 404, "not_found").await;
    assert!(!session_revoked(&platform, &second["session_id"]).await);
    let response = refresh(&platform, &second["refresh_token"]).await;
    assert_eq!(response.status(), 200);
    // B's list never shows A's sessions.
    let response = platform
        .http
        .get(platform.url("/v1/auth/sessions"))
        .bearer_auth(b_tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], b_tokens["session_id"]);

    // An admin of the tenant (users:write) may revoke it.
    let boss_tokens = login(
        &platform,
        &Account {
            tenant: a.tenant,
            slug: a.slug.clone(),
            user: boss,
            email: "boss@bistro-s.example".to_owned(),
        },
    )
    .await;
    let response = delete(
        &second["session_id"],
        boss_tokens["access_token"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 204);
    assert!(session_revoked(&platform, &second["session_id"]).await);

    let audit = audit_rows(&platform, a.tenant).await;
    let revoked: Vec<&Value> = audit
        .iter()
        .filter(|(a, _, _)| a == "auth.session.revoked")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(revoked.len(), 2, "{audit:?}");
    assert_eq!(revoked[0]["reason"], "revoked_by_user");
    assert_eq!(revoked[1]["reason"], "revoked_by_admin");
    assert_eq!(revoked[1]["user_id"], a.user.to_string());
    assert!(
        audit_rows(&platform, b.tenant)
            .await
            .iter()
            .all(|(a, _, _)| a != "auth.session.revoked")
    );

    platform.stop().await;
}
