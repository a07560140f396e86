//! Users through the whole platform: invite (`POST /v1/users`) → the invite mail → accept
//! (`POST /v1/auth/invite/accept`) → login with the granted role; list, get and the versioned
//! update; plan limits, duplicates and the grant rules; deactivation (sessions revoked, login
//! refused, idempotent); the last-owner and self rules; and tenant isolation of user ids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::{TestPlatform, audit_count, eventually, post_login, problem, sign_up};
use olympus::auth::roles::{BUILTIN_ROLES, STAFF};
use serde_json::{Value, json};
use uuid::Uuid;

const NEW_PASSWORD: &str = "invited users pick their own";

async fn invite(platform: &TestPlatform, token: &str, body: &Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url("/v1/users"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Invites `email` with `role` everywhere; returns the user id.
async fn invited(platform: &TestPlatform, token: &str, email: &str, role: &str) -> Uuid {
    let response = invite(
        platform,
        token,
        &json!({"email": email, "name": "Sam", "roles": [{"role": role}]}),
    )
    .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let body: Value = response.json().await.unwrap();
    body["user"]["id"].as_str().unwrap().parse().unwrap()
}

async fn get(platform: &TestPlatform, token: &str, path: &str) -> reqwest::Response {
    platform
        .http
        .get(platform.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch(
    platform: &TestPlatform,
    token: &str,
    id: Uuid,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = platform
        .http
        .patch(platform.url(&format!("/v1/users/{id}")))
        .bearer_auth(token)
        .json(body);
    if let Some(if_match) = if_match {
        request = request.header("if-match", if_match);
    }
    request.send().await.unwrap()
}

async fn delete(platform: &TestPlatform, token: &str, id: Uuid) -> reqwest::Response {
    platform
        .http
        .delete(platform.url(&format!("/v1/users/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
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

/// The invite token mailed to `email` (waits for the event handler).
async fn mailed_token(platform: &TestPlatform, email: &str) -> String {
    let url = platform.url("/dev/mailbox");
    let text = eventually(Duration::from_secs(10), "the invite mail", || {
        let http = platform.http.clone();
        let url = url.clone();
        async move {
            let mailbox: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            mailbox["messages"]
                .as_array()?
                .iter()
                .find(|m| m["mail"]["to"] == email)
                .map(|m| m["mail"]["text"].as_str().unwrap_or_default().to_owned())
        }
    })
    .await;
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/accept-invite?token="))
        .expect("a link in the mail");
    link.split_once("token=").unwrap().1.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_user_gets_the_mail_accepts_and_signs_in_with_the_granted_role() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "users-invite").await;
    let email = "sam@users-invite.example";

    let response = invite(
        &platform,
        &owner.token,
        &json!({"email": " Sam@Users-Invite.example ", "name": "Sam", "roles": [{"role": "staff"}]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let user: Uuid = body["user"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(body["user"]["email"], email);
    assert_eq!(body["user"]["status"], "invited");
    assert_eq!(body["user"]["version"], 1);
    assert_eq!(body["user"]["roles"][0]["name"], "staff");
    assert_eq!(body["user"]["roles"][0]["location_ids"], Value::Null);
    assert!(!body.to_string().contains("ott_"), "no token in {body}");
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.user.invited").await,
        1
    );

    let token = mailed_token(&platform, email).await;
    assert!(token.starts_with(&format!("ott_{}_", owner.tenant.simple())));
    // Not a password yet: an invited user cannot log in.
    problem(
        post_login(&platform, &owner.slug, email, NEW_PASSWORD, None, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        post(
            &platform,
            "/v1/auth/invite/accept",
            &json!({"token": token, "password": "short"}),
        )
        .await,
        422,
        "weak_password",
    )
    .await;

    let response = post(
        &platform,
        "/v1/auth/invite/accept",
        &json!({"token": token, "password": NEW_PASSWORD, "name": "Sam Staff"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("ort_")
    );
    problem(
        post(
            &platform,
            "/v1/auth/invite/accept",
            &json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.invite.accepted").await,
        1
    );

    let response = post_login(&platform, &owner.slug, email, NEW_PASSWORD, None, None).await;
    assert_eq!(response.status(), 200);
    let staff_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = get(&platform, &staff_token, "/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["id"], user.to_string());
    assert_eq!(me["user"]["status"], "active");
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["user"]["name"], "Sam Staff");
    assert_eq!(me["roles"], json!(["staff"]));
    let mut expected: Vec<&str> = BUILTIN_ROLES
        .iter()
        .find(|r| r.name == STAFF)
        .unwrap()
        .permissions
        .to_vec();
    expected.sort_unstable();
    assert_eq!(me["permissions"], json!(expected));

    // Staff may read themselves but not others, and may not invite.
    assert_eq!(
        get(&platform, &staff_token, &format!("/v1/users/{user}"))
            .await
            .status(),
        200
    );
    problem(
        get(
            &platform,
            &staff_token,
            &format!("/v1/users/{}", owner.user),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        get(&platform, &staff_token, "/v1/users").await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        invite(
            &platform,
            &staff_token,
            &json!({"email": "x@users-invite.example", "name": "X", "roles": [{"role": "staff"}]}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_get_versioned_updates_limits_duplicates_and_grant_rules() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "users-crud").await;
    let t = &owner.token;

    let first = invited(&platform, t, "first@users-crud.example", "staff").await;
    problem(
        invite(
            &platform,
            t,
            &json!({"email": "FIRST@users-crud.example", "name": "Again", "roles": [{"role": "staff"}]}),
        )
        .await,
        409,
        "email_taken",
    )
    .await;
    problem(
        invite(
            &platform,
            t,
            &json!({"email": "x@users-crud.example", "name": "X", "roles": [{"role": "chef"}]}),
        )
        .await,
        422,
        "unknown_role",
    )
    .await;
    problem(
        invite(
            &platform,
            t,
            &json!({"email": "x@users-crud.example", "name": "X",
                    "roles": [{"role": "staff", "location_ids": [Uuid::now_v7()]}]}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;
    // Only holders of `*` grant the owner role.
    let writer = platform.token(owner.tenant, &["users:write", "users:read"]);
    let body = problem(
        invite(
            &platform,
            &writer,
            &json!({"email": "x@users-crud.example", "name": "X", "roles": [{"role": "owner"}]}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(body["permission"], "*");

    let manager_role: Uuid = platform
        .admin()
        .await
        .query_one(
            "SELECT id FROM auth.roles WHERE tenant_id = $1 AND name = 'manager'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    let response = invite(
        &platform,
        t,
        &json!({"email": "second@users-crud.example", "name": "Second",
                "roles": [{"role_id": manager_role, "location_ids": [owner.location]}]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let second: Uuid = body["user"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/v1/users/{second}"));
    assert_eq!(
        body["user"]["roles"],
        json!([{"role_id": manager_role, "name": "manager", "location_ids": [owner.location]}])
    );

    // The free plan holds 3 users: the owner and two invites.
    let body = problem(
        invite(
            &platform,
            t,
            &json!({"email": "third@users-crud.example", "name": "Third", "roles": [{"role": "staff"}]}),
        )
        .await,
        403,
        "plan_limit",
    )
    .await;
    assert_eq!(body["limit"], 3);

    // Lists: newest first, cursor pages, status filter.
    let page: Value = get(&platform, t, "/v1/users").await.json().await.unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            second.to_string(),
            first.to_string(),
            owner.user.to_string()
        ]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(page["items"][2]["roles"][0]["name"], "owner");
    let page: Value = get(&platform, t, "/v1/users?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, first.to_string());
    let page: Value = get(&platform, t, &format!("/v1/users?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], owner.user.to_string());
    assert_eq!(page["next_cursor"], Value::Null);
    let page: Value = get(&platform, t, "/v1/users?status=invited")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    problem(
        get(&platform, t, "/v1/users?status=gone").await,
        422,
        "invalid_status",
    )
    .await;

    // Get and the versioned update.
    let response = get(&platform, t, &format!("/v1/users/{first}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    problem(
        patch(&platform, t, first, None, &json!({"name": "Firsty"})).await,
        428,
        "precondition_required",
    )
    .await;
    let body = problem(
        patch(
            &platform,
            t,
            first,
            Some("\"7\""),
            &json!({"name": "Firsty"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);
    let response = patch(
        &platform,
        t,
        first,
        Some("\"1\""),
        &json!({"name": "Firsty"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["name"], "Firsty");
    assert_eq!(user["version"], 2);
    problem(
        patch(
            &platform,
            &writer,
            first,
            Some("2"),
            &json!({"roles": [{"role": "owner"}]}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    let response = patch(
        &platform,
        t,
        first,
        Some("2"),
        &json!({"roles": [{"role": "manager"}, {"role": "staff"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["version"], 3);
    let names: Vec<&str> = user["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["manager", "staff"]);
    let (before, after): (Value, Value) = {
        let row = platform
            .admin()
            .await
            .query_one(
                "SELECT before, after FROM audit.events
                 WHERE tenant_id = $1 AND action = 'auth.user.updated' ORDER BY id DESC LIMIT 1",
                &[&owner.tenant],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(before["version"], 2);
    assert_eq!(before["roles"][0]["name"], "staff");
    assert_eq!(after["version"], 3);
    assert_eq!(after["roles"].as_array().unwrap().len(), 2);

    // A deactivated user frees the seat.
    assert_eq!(delete(&platform, t, first).await.status(), 204);
    invited(&platform, t, "third@users-crud.example", "staff").await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_revokes_sessions_and_keeps_an_owner() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "users-deact").await;
    let email = "sam@users-deact.example";
    let sam = invited(&platform, &owner.token, email, "staff").await;
    let token = mailed_token(&platform, email).await;
    let accepted: Value = post(
        &platform,
        "/v1/auth/invite/accept",
        &json!({"token": token, "password": NEW_PASSWORD}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        post_login(&platform, &owner.slug, email, NEW_PASSWORD, None, None)
            .await
            .status(),
        200
    );

    problem(
        delete(&platform, &owner.token, owner.user).await,
        409,
        "cannot_deactivate_self",
    )
    .await;

    assert_eq!(delete(&platform, &owner.token, sam).await.status(), 204);
    problem(
        post(
            &platform,
            "/v1/auth/refresh",
            &json!({"refresh_token": accepted["refresh_token"]}),
        )
        .await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(
        post_login(&platform, &owner.slug, email, NEW_PASSWORD, None, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(delete(&platform, &owner.token, sam).await.status(), 204);
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.user.deactivated").await,
        1
    );
    let admin = platform.admin().await;
    let open: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.sessions WHERE user_id = $1 AND revoked_at IS NULL",
            &[&sam],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0);
    let events: i64 = admin
        .query_one(
            "SELECT count(*) FROM events.outbox
             WHERE event_type = 'auth.user.deactivated' AND envelope->'payload'->>'user_id' = $1",
            &[&sam.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 1);
    let user: Value = get(&platform, &owner.token, &format!("/v1/users/{sam}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "deactivated");

    // The only owner stays: neither deactivated nor demoted, by anyone.
    let superuser = platform.token(owner.tenant, &["*"]);
    problem(
        delete(&platform, &superuser, owner.user).await,
        409,
        "last_owner",
    )
    .await;
    problem(
        patch(
            &platform,
            &superuser,
            owner.user,
            Some("1"),
            &json!({"roles": [{"role": "staff"}]}),
        )
        .await,
        409,
        "last_owner",
    )
    .await;
    problem(
        patch(
            &platform,
            &owner.token,
            owner.user,
            Some("1"),
            &json!({"roles": [{"role": "admin"}]}),
        )
        .await,
        409,
        "last_owner",
    )
    .await;
    let row = admin
        .query_one(
            "SELECT u.status, u.version, r.name FROM auth.users u
             JOIN auth.role_grants g ON g.user_id = u.id JOIN auth.roles r ON r.id = g.role_id
             WHERE u.id = $1",
            &[&owner.user],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "active");
    assert_eq!(row.get::<_, i32>(1), 1);
    assert_eq!(row.get::<_, String>(2), "owner");
    // An admin (no `*`) may not deactivate an owner at all.
    let writer = platform.token(owner.tenant, &["users:write"]);
    problem(
        delete(&platform, &writer, owner.user).await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_user_ids_are_not_found_and_nothing_changes() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "users-tenant-a").await;
    let b = sign_up(&platform, "users-tenant-b").await;
    let victim = invited(
        &platform,
        &a.token,
        "victim@users-tenant-a.example",
        "staff",
    )
    .await;

    for id in [victim, a.user] {
        problem(
            get(&platform, &b.token, &format!("/v1/users/{id}")).await,
            404,
            "not_found",
        )
        .await;
        problem(
            patch(
                &platform,
                &b.token,
                id,
                Some("1"),
                &json!({"name": "Pwned", "roles": [{"role": "staff"}]}),
            )
            .await,
            404,
            "not_found",
        )
        .await;
        problem(delete(&platform, &b.token, id).await, 404, "not_found").await;
    }
    problem(
        get(&platform, &b.token, "/v1/users/not-a-uuid").await,
        404,
        "not_found",
    )
    .await;
    let page: Value = get(&platform, &b.token, "/v1/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], b.user.to_string());
    // B's roles are not A's: a role id of A is unknown in B.
    let a_staff: Uuid = platform
        .admin()
        .await
        .query_one(
            "SELECT id FROM auth.roles WHERE tenant_id = $1 AND name = 'staff'",
            &[&a.tenant],
        )
        .await
        .unwrap()
        .get(0);
    problem(
        invite(
            &platform,
            &b.token,
            &json!({"email": "x@users-tenant-b.example", "name": "X", "roles": [{"role_id": a_staff}]}),
        )
        .await,
        422,
        "unknown_role",
    )
    .await;

    let admin = platform.admin().await;
    for id in [victim, a.user] {
        let row = admin
            .query_one(
                "SELECT name, version, status, tenant_id FROM auth.users WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        assert_ne!(row.get::<_, String>(0), "Pwned");
        assert_eq!(row.get::<_, i32>(1), 1);
        assert_ne!(row.get::<_, String>(2), "deactivated");
        assert_eq!(row.get::<_, Uuid>(3), a.tenant);
    }
    let grants: i64 = admin
        .query_one(
            "SELECT count(*) FROM auth.role_grants WHERE user_id = $1",
            &[&victim],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(grants, 1);
    assert_eq!(
        audit_count(&platform, b.tenant, "auth.user.updated").await,
        0
    );
    assert_eq!(
        audit_count(&platform, b.tenant, "auth.user.deactivated").await,
        0
    );
    platform.stop().await;
}
