//! Tenants through the whole platform: sign-up (`POST /v1/tenants`) with its validation, slug
//! conflicts and `Idempotency-Key` replay; the tenant profile (`GET /v1/tenant`) and its
//! optimistic-concurrency update (`PATCH /v1/tenant` with `If-Match`), plan changes (billing
//! permission, limits on downgrade), audit rows, and tenant isolation of everything written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{PASSWORD, TestPlatform, post_sign_up, problem, signed_up, signup_body};
use serde_json::{Value, json};
use uuid::Uuid;

fn tenant_id(signup: &Value) -> Uuid {
    signup["tenant"]["id"].as_str().unwrap().parse().unwrap()
}

fn access_token(signup: &Value) -> String {
    signup["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get_tenant(platform: &TestPlatform, token: &str) -> reqwest::Response {
    platform
        .http
        .get(platform.url("/v1/tenant"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch_tenant(
    platform: &TestPlatform,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = platform
        .http
        .patch(platform.url("/v1/tenant"))
        .bearer_auth(token)
        .json(body);
    if let Some(if_match) = if_match {
        request = request.header("if-match", if_match);
    }
    request.send().await.unwrap()
}

async fn count(admin: &tokio_postgres::Client, sql: &str, tenant: Uuid) -> i64 {
    admin.query_one(sql, &[&tenant]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_creates_the_tenant_its_owner_and_tokens_that_read_it() {
    let platform = TestPlatform::start(None).await;
    let mut body = signup_body("joes-diner", "Joe's Diner");
    body["owner"]["email"] = json!("  Joe@Example.COM ");

    let response = post_sign_up(&platform, &body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/v1/tenant");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let signup: Value = response.json().await.unwrap();
    let tenant = tenant_id(&signup);
    assert_eq!(tenant.get_version_num(), 7);
    let t = &signup["tenant"];
    assert_eq!(t["slug"], "joes-diner");
    assert_eq!(t["name"], "Joe's Diner");
    assert_eq!(t["industry"], "restaurant");
    assert_eq!(t["currency"], "EUR");
    assert_eq!(t["time_zone"], "Europe/Paris");
    assert_eq!(t["plan"], "free");
    assert_eq!(t["limits"], json!({"users": 3, "locations": 1}));
    assert_eq!(t["settings"], json!({}));
    assert_eq!(t["branding"], json!({}));
    assert_eq!(t["version"], 1);
    assert_eq!(signup["user"]["email"], "joe@example.com");
    assert_eq!(signup["user"]["name"], "Olga Owner");
    let owner: Uuid = signup["user"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(signup["location"]["name"], "Main");
    assert_eq!(signup["location"]["time_zone"], "Europe/Paris");
    assert_eq!(signup["location"]["currency"], "EUR");
    // The same view as `GET /v1/locations/{id}`: the business day starts at midnight.
    assert_eq!(signup["location"]["day_cutoff"], "00:00");
    assert_eq!(signup["location"]["active"], true);
    let location: Uuid = signup["location"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(signup["tokens"]["token_type"], "Bearer");
    assert!(signup["tokens"]["expires_in"].as_i64().unwrap() > 0);
    let refresh = signup["tokens"]["refresh_token"].as_str().unwrap();
    assert!(
        refresh.starts_with(&format!("ort_{}_", tenant.simple())),
        "{refresh}"
    );
    assert!(!signup.to_string().contains(PASSWORD));

    // The access token works: the owner reads the tenant, with its version as the ETag.
    let read = get_tenant(&platform, &access_token(&signup)).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "\"1\"");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, signup["tenant"]);

    let admin = platform.admin().await;
    let directory: Uuid = admin
        .query_one(
            "SELECT tenant_id FROM platform.tenant_directory WHERE slug = 'joes-diner'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(directory, tenant);
    let user = admin
        .query_one(
            "SELECT email, status, password_hash FROM auth.users WHERE id = $1",
            &[&owner],
        )
        .await
        .unwrap();
    assert_eq!(user.get::<_, String>(0), "joe@example.com");
    assert_eq!(user.get::<_, String>(1), "active");
    let hash: String = user.get(2);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    let roles: Vec<(String, Vec<String>, bool)> = admin
        .query(
            "SELECT name, permissions, builtin FROM auth.roles WHERE tenant_id = $1 ORDER BY name",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let names: Vec<&str> = roles.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["admin", "manager", "owner", "staff"]);
    assert!(roles.iter().all(|r| r.2));
    assert_eq!(roles[2].1, ["*"]);
    assert!(!roles[0].1.iter().any(|p| p == "tenant:billing" || p == "*"));
    let grant = admin
        .query_one(
            "SELECT r.name, g.location_ids IS NULL FROM auth.role_grants g
             JOIN auth.roles r ON r.id = g.role_id WHERE g.user_id = $1",
            &[&owner],
        )
        .await
        .unwrap();
    assert_eq!(grant.get::<_, String>(0), "owner");
    assert!(
        grant.get::<_, bool>(1),
        "the owner role is granted everywhere"
    );
    let session_method: String = admin
        .query_one(
            "SELECT method FROM auth.sessions WHERE user_id = $1",
            &[&owner],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(session_method, "signup");
    let audit = admin
        .query_one(
            "SELECT actor_type, actor_id, target_type, target_id, after->>'slug'
             FROM audit.events WHERE tenant_id = $1 AND action = 'platform.tenant.created'",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "user");
    assert_eq!(audit.get::<_, Option<Uuid>>(1), Some(owner));
    assert_eq!(audit.get::<_, String>(2), "tenant");
    assert_eq!(audit.get::<_, String>(3), tenant.to_string());
    assert_eq!(audit.get::<_, String>(4), "joes-diner");
    let envelope: Value = admin
        .query_one(
            "SELECT envelope FROM events.outbox
             WHERE event_type = 'platform.tenant.created' AND tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(envelope["payload"]["slug"], "joes-diner");
    assert_eq!(envelope["payload"]["owner_user_id"], owner.to_string());
    assert_eq!(
        envelope["payload"]["first_location_id"],
        location.to_string()
    );

    // Every row written carries the new tenant id, and nothing else exists.
    for table in [
        "platform.locations",
        "auth.users",
        "auth.roles",
        "auth.role_grants",
        "auth.sessions",
        "auth.refresh_tokens",
        "audit.events",
        "events.outbox",
    ] {
        let ours = count(
            &admin,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
            tenant,
        )
        .await;
        let others = count(
            &admin,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id IS DISTINCT FROM $1"),
            tenant,
        )
        .await;
        assert!(ours > 0, "{table} has no row of the new tenant");
        assert_eq!(others, 0, "{table} has rows of another tenant");
    }
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM platform.tenants WHERE id <> $1",
            tenant
        )
        .await,
        0
    );
    // Without tenant context the (RLS-forced) owner role sees none of it.
    let owner_db = platform.owner().await;
    for table in ["platform.tenants", "auth.users", "platform.locations"] {
        let seen: i64 = owner_db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(seen, 0, "{table} visible without a tenant");
    }

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_slug_is_409_slug_taken() {
    let platform = TestPlatform::start(None).await;
    signed_up(&platform, &signup_body("taken", "First")).await;
    let mut again = signup_body("taken", "Second");
    again["owner"]["email"] = json!("someone@else.example");
    let body = problem(post_sign_up(&platform, &again).await, 409, "slug_taken").await;
    assert_eq!(body["field"], "slug");
    let admin = platform.admin().await;
    let tenants: i64 = admin
        .query_one("SELECT count(*) FROM platform.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tenants, 1);
    let users: i64 = admin
        .query_one("SELECT count(*) FROM auth.users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1, "the refused sign-up left nothing behind");

    // Two sign-ups racing for one slug: the unique index decides, the loser is still 409.
    let mut first = signup_body("racing", "Racer One");
    first["owner"]["email"] = json!("one@racing.example");
    let mut second = signup_body("racing", "Racer Two");
    second["owner"]["email"] = json!("two@racing.example");
    let (one, two) = tokio::join!(
        post_sign_up(&platform, &first),
        post_sign_up(&platform, &second)
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let loser = if one.status() == 409 { one } else { two };
    problem(loser, 409, "slug_taken").await;

    // The index is the last word even when the directory pre-check passes: a tenant row with
    // the slug but no directory entry (what a racing sign-up holds before it commits).
    admin
        .execute(
            "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, 'ghost', 'Ghost')",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap();
    let ghost = post_sign_up(&platform, &signup_body("ghost", "Another Ghost")).await;
    problem(ghost, 409, "slug_taken").await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_field_has_its_own_code() {
    let platform = TestPlatform::start(None).await;
    let base = signup_body("valid-slug", "Valid");
    let cases: Vec<(&[&str], Value, &str, Option<&str>)> = vec![
        (&["slug"], json!("Upper-Case"), "invalid_slug", Some("slug")),
        (&["slug"], json!("x"), "invalid_slug", Some("slug")),
        (&["slug"], json!("-leading"), "invalid_slug", Some("slug")),
        (
            &["slug"],
            json!("a".repeat(64)),
            "invalid_slug",
            Some("slug"),
        ),
        (
            &["industry"],
            json!("mining"),
            "invalid_industry",
            Some("industry"),
        ),
        (
            &["currency"],
            json!("eur"),
            "invalid_currency",
            Some("currency"),
        ),
        (
            &["currency"],
            json!("EURO"),
            "invalid_currency",
            Some("currency"),
        ),
        (
            &["time_zone"],
            json!("Mars/Olympus_Mons"),
            "invalid_time_zone",
            Some("time_zone"),
        ),
        (
            &["time_zone"],
            json!("europe/paris"),
            "invalid_time_zone",
            Some("time_zone"),
        ),
        (&["plan"], json!("gold"), "invalid_plan", Some("plan")),
        (&["name"], json!("   "), "invalid_name", Some("name")),
        (
            &["owner", "name"],
            json!(""),
            "invalid_name",
            Some("owner.name"),
        ),
        (
            &["owner", "email"],
            json!("not-an-email"),
            "invalid_email",
            Some("owner.email"),
        ),
        (
            &["owner", "email"],
            json!("ana@localhost"),
            "invalid_email",
            Some("owner.email"),
        ),
        (
            &["owner", "password"],
            json!("short"),
            "weak_password",
            None,
        ),
        (
            &["location"],
            json!({"time_zone": "Nowhere/Land"}),
            "invalid_time_zone",
            Some("location.time_zone"),
        ),
        (
            &["location"],
            json!({"currency": "gb"}),
            "invalid_currency",
            Some("location.currency"),
        ),
        (
            &["location"],
            json!({"name": ""}),
            "invalid_name",
            Some("location.name"),
        ),
        (&["surprise"], json!(true), "invalid_body", None),
        (&["owner", "role"], json!("admin"), "invalid_body", None),
        (
            &["location"],
            json!({"address": "1 Main St"}),
            "invalid_body",
            None,
        ),
        (&["industry"], json!(7), "invalid_body", None),
    ];
    for (path, value, code, field) in cases {
        let mut body = base.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut target = &mut body;
        for key in parents {
            target = &mut target[*key];
        }
        target[*last] = value.clone();
        let problem = problem(post_sign_up(&platform, &body).await, 422, code).await;
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{path:?} = {value}");
        }
    }
    let mut missing_owner = base.clone();
    missing_owner.as_object_mut().unwrap().remove("owner");
    problem(
        post_sign_up(&platform, &missing_owner).await,
        422,
        "invalid_body",
    )
    .await;

    let tenants: i64 = platform
        .admin()
        .await
        .query_one("SELECT count(*) FROM platform.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tenants, 0, "no invalid sign-up wrote anything");
    // The valid body itself passes: the cases above failed for their one change only.
    signed_up(&platform, &base).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_sign_up_is_never_repeated_and_keeps_no_credentials_at_rest() {
    let platform = TestPlatform::start(None).await;
    let body = signup_body("once-only", "Once Only");
    let send = |body: Value, key: &'static str| {
        platform
            .http
            .post(platform.url("/v1/tenants"))
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send(body.clone(), "signup-key-1").await.unwrap();
    assert_eq!(first.status(), 201);
    // Sign-up answers with tokens and carries a password: it is deliberately not replayed from
    // storage. A retry of the same sign-up is a conflict on the slug, never a second tenant.
    problem(
        send(body.clone(), "signup-key-1").await.unwrap(),
        409,
        "slug_taken",
    )
    .await;

    let admin = platform.admin().await;
    for (sql, expected) in [
        ("SELECT count(*) FROM platform.tenants", 1),
        ("SELECT count(*) FROM auth.users", 1),
        ("SELECT count(*) FROM auth.sessions", 1),
        (
            "SELECT count(*) FROM events.outbox WHERE event_type = 'platform.tenant.created'",
            1,
        ),
        ("SELECT count(*) FROM platform.idempotency_keys", 0),
    ] {
        let n: i64 = admin.query_one(sql, &[]).await.unwrap().get(0);
        assert_eq!(n, expected, "{sql}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_need_the_current_version_bump_it_and_are_audited() {
    let platform = TestPlatform::start(None).await;
    let signup = signed_up(&platform, &signup_body("versioned", "Versioned")).await;
    let tenant = tenant_id(&signup);
    let owner = signup["user"]["id"].as_str().unwrap().to_owned();
    let token = access_token(&signup);
    let rename = json!({
        "name": "Versioned Bistro",
        "time_zone": "America/New_York",
        "settings": {"tips": {"enabled": true}}
    });

    let missing = patch_tenant(&platform, &token, None, &rename).await;
    problem(missing, 428, "precondition_required").await;
    let garbage = patch_tenant(&platform, &token, Some("*"), &rename).await;
    problem(garbage, 400, "invalid_if_match").await;
    let stale = patch_tenant(&platform, &token, Some("\"7\""), &rename).await;
    assert_eq!(stale.headers()["etag"], "\"1\"");
    let stale = problem(stale, 412, "version_mismatch").await;
    assert_eq!(stale["current_version"], 1);

    let updated = patch_tenant(&platform, &token, Some("\"1\""), &rename).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.headers()["etag"], "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["name"], "Versioned Bistro");
    assert_eq!(updated["time_zone"], "America/New_York");
    assert_eq!(updated["settings"], json!({"tips": {"enabled": true}}));
    assert_eq!(updated["slug"], "versioned");
    assert_eq!(updated["currency"], "EUR");
    assert_eq!(updated["created_at"], signup["tenant"]["created_at"]);
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(time(&updated["updated_at"]) > time(&signup["tenant"]["updated_at"]));

    // The version it was made against is now stale.
    let replayed = patch_tenant(&platform, &token, Some("\"1\""), &rename).await;
    assert_eq!(
        problem(replayed, 412, "version_mismatch").await["current_version"],
        2
    );
    // Validation as at sign-up; the slug is not changeable; nothing is written on refusal.
    let invalid = patch_tenant(&platform, &token, Some("2"), &json!({"currency": "usd"})).await;
    problem(invalid, 422, "invalid_currency").await;
    let invalid = patch_tenant(&platform, &token, Some("2"), &json!({"settings": [1]})).await;
    problem(invalid, 422, "invalid_settings").await;
    let invalid = patch_tenant(&platform, &token, Some("2"), &json!({"slug": "new"})).await;
    problem(invalid, 422, "invalid_body").await;
    // A bare number works as well as the ETag.
    let branded = patch_tenant(
        &platform,
        &token,
        Some("2"),
        &json!({"branding": {"color": "#0a7"}, "industry": "hospitality"}),
    )
    .await;
    assert_eq!(branded.status(), 200);
    assert_eq!(branded.headers()["etag"], "\"3\"");
    // A change to the current values is no change: no new version, no audit row.
    let same = patch_tenant(
        &platform,
        &token,
        Some("\"3\""),
        &json!({"name": "Versioned Bistro"}),
    )
    .await;
    assert_eq!(same.status(), 200);
    assert_eq!(same.headers()["etag"], "\"3\"");

    let read = get_tenant(&platform, &token).await;
    assert_eq!(read.headers()["etag"], "\"3\"");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["version"], 3);
    assert_eq!(read["name"], "Versioned Bistro");
    assert_eq!(read["industry"], "hospitality");
    assert_eq!(read["branding"], json!({"color": "#0a7"}));

    let admin = platform.admin().await;
    let rows = admin
        .query(
            "SELECT actor_type, actor_id::text, before, after, details FROM audit.events
             WHERE tenant_id = $1 AND action = 'platform.tenant.updated' ORDER BY id",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "user");
    assert_eq!(
        rows[0].get::<_, Option<String>>(1).as_deref(),
        Some(owner.as_str())
    );
    let before: Value = rows[0].get(2);
    let after: Value = rows[0].get(3);
    assert_eq!(
        before,
        json!({"name": "Versioned", "time_zone": "Europe/Paris", "settings": {}, "version": 1})
    );
    assert_eq!(
        after,
        json!({
            "name": "Versioned Bistro",
            "time_zone": "America/New_York",
            "settings": {"tips": {"enabled": true}},
            "version": 2
        })
    );
    let details: Value = rows[0].get(4);
    assert_eq!(details["changed"], json!(["name", "time_zone", "settings"]));
    let after: Value = rows[1].get(3);
    assert_eq!(after["version"], 3);
    assert_eq!(after["industry"], "hospitality");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_guard_reading_writing_and_the_plan() {
    let platform = TestPlatform::start(None).await;
    let signup = signed_up(&platform, &signup_body("guarded", "Guarded")).await;
    let tenant = tenant_id(&signup);

    let anonymous = platform
        .http
        .get(platform.url("/v1/tenant"))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401, "missing_token").await;
    let unrelated = platform.token(tenant, &["orders:read"]);
    let denied = problem(
        get_tenant(&platform, &unrelated).await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(denied["permission"], "tenant:read");
    let reader = platform.token(tenant, &["tenant:read"]);
    assert_eq!(get_tenant(&platform, &reader).await.status(), 200);
    let denied = patch_tenant(&platform, &reader, Some("1"), &json!({"name": "No"})).await;
    assert_eq!(
        problem(denied, 403, "permission_denied").await["permission"],
        "tenant:write"
    );

    // An admin-like token (tenant:write, no tenant:billing) edits the profile but not the plan.
    let admin_token = platform.token(tenant, &["tenant:read", "tenant:write"]);
    let plan = patch_tenant(&platform, &admin_token, Some("1"), &json!({"plan": "pro"})).await;
    assert_eq!(
        problem(plan, 403, "permission_denied").await["permission"],
        "tenant:billing"
    );
    let renamed = patch_tenant(
        &platform,
        &admin_token,
        Some("1"),
        &json!({"name": "Renamed"}),
    )
    .await;
    assert_eq!(renamed.status(), 200);
    // Sending the plan unchanged is not a plan change.
    let unchanged = patch_tenant(
        &platform,
        &admin_token,
        Some("2"),
        &json!({"name": "Renamed Again", "plan": "free"}),
    )
    .await;
    assert_eq!(unchanged.status(), 200);

    // The owner (role `owner`, `*`) changes the plan; the limits follow.
    let owner = access_token(&signup);
    let upgraded = patch_tenant(&platform, &owner, Some("3"), &json!({"plan": "pro"})).await;
    assert_eq!(upgraded.status(), 200);
    let upgraded: Value = upgraded.json().await.unwrap();
    assert_eq!(upgraded["plan"], "pro");
    assert_eq!(upgraded["limits"], json!({"users": 50, "locations": 20}));
    assert_eq!(upgraded["version"], 4);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downgrade_below_current_usage_is_plan_limit() {
    let platform = TestPlatform::start(None).await;
    let admin = platform.admin().await;

    // Locations: starter with two active locations cannot become free (one location).
    let mut body = signup_body("two-shops", "Two Shops");
    body["plan"] = json!("starter");
    let signup = signed_up(&platform, &body).await;
    let tenant = tenant_id(&signup);
    let owner = access_token(&signup);
    assert_eq!(signup["tenant"]["plan"], "starter");
    let second = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO platform.locations (id, tenant_id, name, time_zone, currency)
             VALUES ($1, $2, 'Second', 'Europe/Paris', 'EUR')",
            &[&second, &tenant],
        )
        .await
        .unwrap();
    let refused = patch_tenant(&platform, &owner, Some("1"), &json!({"plan": "free"})).await;
    let refused = problem(refused, 403, "plan_limit").await;
    assert_eq!(refused["resource"], "locations");
    assert_eq!(refused["limit"], 1);
    assert_eq!(refused["usage"], 2);
    assert_eq!(refused["plan"], "free");
    let read: Value = get_tenant(&platform, &owner).await.json().await.unwrap();
    assert_eq!(
        (read["plan"].clone(), read["version"].clone()),
        (json!("starter"), json!(1))
    );
    // An inactive location does not count.
    admin
        .execute(
            "UPDATE platform.locations SET active = false WHERE id = $1",
            &[&second],
        )
        .await
        .unwrap();
    let done = patch_tenant(&platform, &owner, Some("1"), &json!({"plan": "free"})).await;
    assert_eq!(done.status(), 200);

    // Users: the sign-up owner counts, so owner + 3 more is over free's 3.
    let mut body = signup_body("crowded", "Crowded");
    body["plan"] = json!("starter");
    let signup = signed_up(&platform, &body).await;
    let tenant = tenant_id(&signup);
    let owner = access_token(&signup);
    let mut extra = Vec::new();
    for n in 0..3 {
        let id = Uuid::now_v7();
        admin
            .execute(
                "INSERT INTO auth.users (id, tenant_id, email, name, status)
                 VALUES ($1, $2, $3, 'Staff', 'active')",
                &[&id, &tenant, &format!("staff{n}@crowded.example")],
            )
            .await
            .unwrap();
        extra.push(id);
    }
    let refused = patch_tenant(&platform, &owner, Some("1"), &json!({"plan": "free"})).await;
    let refused = problem(refused, 403, "plan_limit").await;
    assert_eq!(refused["resource"], "users");
    assert_eq!(refused["limit"], 3);
    assert_eq!(refused["usage"], 4);
    admin
        .execute(
            "UPDATE auth.users SET status = 'deactivated' WHERE id = $1",
            &[&extra[0]],
        )
        .await
        .unwrap();
    let done = patch_tenant(&platform, &owner, Some("1"), &json!({"plan": "free"})).await;
    assert_eq!(done.status(), 200);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_sees_and_changes_only_its_own_tenant() {
    let platform = TestPlatform::start(None).await;
    let a = signed_up(&platform, &signup_body("alpha", "Alpha Bakery")).await;
    let b = signed_up(&platform, &signup_body("beta", "Beta Salon")).await;
    let (tenant_a, tenant_b) = (tenant_id(&a), tenant_id(&b));

    let seen = get_tenant(&platform, &access_token(&b)).await;
    assert_eq!(seen.status(), 200);
    let text = seen.text().await.unwrap();
    let seen: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(seen["name"], "Beta Salon");
    assert_eq!(seen["id"], tenant_b.to_string());
    assert!(!text.contains("Alpha Bakery"), "{text}");
    assert!(!text.contains(&tenant_a.to_string()), "{text}");

    let changed = patch_tenant(
        &platform,
        &access_token(&b),
        Some("1"),
        &json!({"name": "Beta Spa"}),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let seen: Value = get_tenant(&platform, &access_token(&a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["name"], "Alpha Bakery");
    assert_eq!(seen["version"], 1);

    // A token of a tenant that does not exist finds nothing (and certainly not A or B).
    let ghost = platform.token(Uuid::now_v7(), &["tenant:read", "tenant:write"]);
    problem(get_tenant(&platform, &ghost).await, 404, "not_found").await;
    let ghost_patch = patch_tenant(&platform, &ghost, Some("1"), &json!({"name": "Mine"})).await;
    problem(ghost_patch, 404, "not_found").await;
    let names: Vec<String> = platform
        .admin()
        .await
        .query("SELECT name FROM platform.tenants ORDER BY slug", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Alpha Bakery", "Beta Spa"]);
    platform.stop().await;
}

/// The whole life of a session through the real stack: sign-up, login, refresh, logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_then_login_then_refresh_then_logout() {
    let platform = TestPlatform::start(None).await;
    let signup = signed_up(&platform, &signup_body("lifecycle", "Lifecycle Cafe")).await;
    let post = |path: &'static str, token: Option<String>, body: Value| {
        let mut request = platform.http.post(platform.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let login = post(
        "/v1/auth/login",
        None,
        json!({"tenant": "lifecycle", "email": "owner@lifecycle.example", "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_ne!(
        login["session_id"], signup["tokens"]["session_id"],
        "a new session"
    );
    let me: Value = platform
        .http
        .get(platform.url("/v1/auth/me"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["tenant"]["slug"], "lifecycle");
    assert_eq!(me["roles"], json!(["owner"]));

    let refreshed = post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": login["refresh_token"]}),
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(
        refreshed["refresh_token"], login["refresh_token"],
        "rotated"
    );

    let logout = post(
        "/v1/auth/logout",
        Some(refreshed["access_token"].as_str().unwrap().to_owned()),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(logout.status(), 204);
    let after = post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": refreshed["refresh_token"]}),
    )
    .await
    .unwrap();
    problem(after, 401, "invalid_refresh_token").await;
    // The sign-up session is another session: still alive.
    let signup_refresh = post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": signup["tokens"]["refresh_token"]}),
    )
    .await
    .unwrap();
    assert_eq!(signup_refresh.status(), 200);
    platform.stop().await;
}
