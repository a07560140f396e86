//! Locations, devices and PIN sign-in through the whole platform: location CRUD with versions,
//! validation and the plan limit; tenant isolation (another tenant's ids are 404 and nothing
//! changes); location-limited principals (real tokens from PIN login) see and change only their
//! locations; device registration; PINs (set, sign-in at the device's location only, lockout).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine as _;
use common::{Owner, TestPlatform, audit_count, problem, sign_up_with, signup_body};
use serde_json::{Value, json};
use uuid::Uuid;

/// Signs up a tenant (free plan, first location "Main street") and returns its owner.
async fn sign_up(platform: &TestPlatform, slug: &str) -> Owner {
    let mut body = signup_body(slug, &format!("Tenant {slug}"));
    body["location"] = json!({"name": "Main street"});
    sign_up_with(platform, &body).await
}

async fn set_plan(platform: &TestPlatform, tenant: Uuid, plan: &str) {
    platform
        .admin()
        .await
        .execute(
            "UPDATE platform.tenants SET plan = $2 WHERE id = $1",
            &[&tenant, &plan],
        )
        .await
        .unwrap();
}

async fn get(platform: &TestPlatform, path: &str, token: &str) -> reqwest::Response {
    platform
        .request(reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

async fn post(platform: &TestPlatform, path: &str, token: &str, body: &Value) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn patch(
    platform: &TestPlatform,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut builder = platform
        .request(reqwest::Method::PATCH, path, token)
        .json(body);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    builder.send().await.unwrap()
}

async fn put_pin(platform: &TestPlatform, user: Uuid, token: &str, pin: &str) -> reqwest::Response {
    platform
        .request(
            reqwest::Method::PUT,
            &format!("/v1/users/{user}/pin"),
            token,
        )
        .json(&json!({ "pin": pin }))
        .send()
        .await
        .unwrap()
}

async fn pin_login(platform: &TestPlatform, body: &Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url("/v1/auth/pin"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

/// The claims of an access token (the signature is checked by the platform on use).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn count(platform: &TestPlatform, sql: &str, tenant: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, &[&tenant])
        .await
        .unwrap()
        .get(0)
}

/// A custom role of `tenant` with `permissions`.
async fn role(platform: &TestPlatform, tenant: Uuid, name: &str, permissions: &[&str]) -> Uuid {
    let id = Uuid::now_v7();
    let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO auth.roles (id, tenant_id, name, permissions) VALUES ($1, $2, $3, $4)",
            &[&id, &tenant, &name, &permissions],
        )
        .await
        .unwrap();
    id
}

/// An active user of `tenant` granted `role` at `locations` (None: everywhere).
async fn user(
    platform: &TestPlatform,
    tenant: Uuid,
    email: &str,
    role: Uuid,
    locations: Option<Vec<Uuid>>,
) -> Uuid {
    let admin = platform.admin().await;
    let user = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO auth.users (id, tenant_id, email, name, status)
             VALUES ($1, $2, $3, 'Sam Staff', 'active')",
            &[&user, &tenant, &email],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO auth.role_grants (tenant_id, user_id, role_id, location_ids)
             VALUES ($1, $2, $3, $4)",
            &[&tenant, &user, &role, &locations],
        )
        .await
        .unwrap();
    user
}

async fn create_location(platform: &TestPlatform, token: &str, name: &str) -> Value {
    json_ok(
        post(platform, "/v1/locations", token, &json!({ "name": name })).await,
        201,
    )
    .await
}

async fn register_device(platform: &TestPlatform, token: &str, location: Uuid, name: &str) -> Uuid {
    let device = json_ok(
        post(
            platform,
            &format!("/v1/locations/{location}/devices"),
            token,
            &json!({ "name": name }),
        )
        .await,
        201,
    )
    .await;
    id(&device)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_crud_with_versions_validation_and_the_plan_limit() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "harbour").await;
    let token = &owner.token;

    // Sign-up made the first location; the free plan allows one.
    let page = json_ok(get(&platform, "/v1/locations", token).await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(id(&page["items"][0]), owner.location);
    assert_eq!(page["next_cursor"], Value::Null);
    let body = problem(
        post(
            &platform,
            "/v1/locations",
            token,
            &json!({"name": "Second"}),
        )
        .await,
        403,
        "plan_limit",
    )
    .await;
    assert_eq!(body["limit"], 1);
    assert_eq!(body["resource"], "locations");

    // Validation codes, each naming its field.
    for (body, code, field) in [
        (json!({"name": ""}), "invalid_name", "name"),
        (
            json!({"name": "X", "time_zone": "Mars/Olympus"}),
            "invalid_time_zone",
            "time_zone",
        ),
        (
            json!({"name": "X", "currency": "euro"}),
            "invalid_currency",
            "currency",
        ),
        (
            json!({"name": "X", "address": "1 Quay"}),
            "invalid_address",
            "address",
        ),
        (
            json!({"name": "X", "tax_settings": [1]}),
            "invalid_tax_settings",
            "tax_settings",
        ),
        (
            json!({"name": "X", "business_hours": {"mon": [["17:00", "09:00"]]}}),
            "invalid_business_hours",
            "business_hours",
        ),
        (
            json!({"name": "X", "business_hours": {"someday": []}}),
            "invalid_business_hours",
            "business_hours",
        ),
        (
            json!({"name": "X", "business_hours": {"mon": [["9am", "5pm"]]}}),
            "invalid_business_hours",
            "business_hours",
        ),
        (
            json!({"name": "X", "business_hours": {"tue": [["09:00", "13:00"], ["12:00", "18:00"]]}}),
            "invalid_business_hours",
            "business_hours",
        ),
    ] {
        let response = post(&platform, "/v1/locations", token, &body).await;
        let problem = problem(response, 422, code).await;
        assert_eq!(problem["field"], field, "{body}");
    }
    problem(
        post(
            &platform,
            "/v1/locations",
            token,
            &json!({"time_zone": "UTC"}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // Upgraded, a second location can be created.
    set_plan(&platform, owner.tenant, "pro").await;
    let hours = json!({"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "24:00"]], "sun": []});
    let response = post(
        &platform,
        "/v1/locations",
        token,
        &json!({
            "name": " Quay side ",
            "time_zone": "Europe/Lisbon",
            "address": {"line1": "1 Quay", "city": "Lisbon"},
            "business_hours": hours,
            "tax_settings": {"vat_rate_bp": 2300}
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location_header = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let quay = id(&created);
    assert_eq!(quay.get_version_num(), 7);
    assert_eq!(location_header, format!("/v1/locations/{quay}"));
    assert_eq!(created["name"], "Quay side");
    assert_eq!(created["time_zone"], "Europe/Lisbon");
    assert_eq!(created["currency"], "EUR", "defaults to the tenant's");
    assert_eq!(created["business_hours"], hours);
    assert_eq!(created["tax_settings"], json!({"vat_rate_bp": 2300}));
    assert_eq!(created["active"], true);
    assert_eq!(created["version"], 1);

    let response = get(&platform, &location_header, token).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(json_ok(response, 200).await, created);
    problem(
        get(
            &platform,
            &format!("/v1/locations/{}", Uuid::now_v7()),
            token,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        get(&platform, "/v1/locations/not-a-uuid", token).await,
        404,
        "not_found",
    )
    .await;

    // Versioned updates.
    let path = format!("/v1/locations/{quay}");
    let rename = json!({"name": "Quay"});
    problem(
        patch(&platform, &path, token, None, &rename).await,
        428,
        "precondition_required",
    )
    .await;
    let stale = problem(
        patch(&platform, &path, token, Some("\"7\""), &rename).await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(stale["current_version"], 1);
    problem(
        patch(
            &platform,
            &path,
            token,
            Some("\"1\""),
            &json!({"business_hours": {"mon": [["10:00", "10:00"]]}}),
        )
        .await,
        422,
        "invalid_business_hours",
    )
    .await;
    let response = patch(&platform, &path, token, Some("\"1\""), &rename).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let renamed = json_ok(response, 200).await;
    assert_eq!(renamed["name"], "Quay");
    assert_eq!(renamed["version"], 2);
    assert_eq!(renamed["business_hours"], hours, "untouched fields stay");
    // Nothing to change: the location as it is, no new version.
    let same = json_ok(
        patch(&platform, &path, token, Some("2"), &rename).await,
        200,
    )
    .await;
    assert_eq!(same["version"], 2);
    problem(
        patch(&platform, &path, token, Some("\"1\""), &rename).await,
        412,
        "version_mismatch",
    )
    .await;

    // Pagination, newest first.
    let first = json_ok(get(&platform, "/v1/locations?limit=1", token).await, 200).await;
    assert_eq!(id(&first["items"][0]), quay);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_ok(
        get(
            &platform,
            &format!("/v1/locations?limit=1&cursor={cursor}"),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(id(&second["items"][0]), owner.location);
    assert_eq!(second["next_cursor"], Value::Null);
    problem(
        get(&platform, "/v1/locations?limit=0", token).await,
        422,
        "invalid_limit",
    )
    .await;
    problem(
        get(&platform, "/v1/locations?cursor=nope", token).await,
        400,
        "invalid_query",
    )
    .await;

    // Deactivation hides it from the default list; reactivation counts against the plan.
    let off = json_ok(
        patch(
            &platform,
            &path,
            token,
            Some("2"),
            &json!({"active": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(off["active"], false);
    let page = json_ok(get(&platform, "/v1/locations", token).await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page = json_ok(
        get(&platform, "/v1/locations?include_inactive=true", token).await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    set_plan(&platform, owner.tenant, "free").await;
    problem(
        patch(&platform, &path, token, Some("3"), &json!({"active": true})).await,
        403,
        "plan_limit",
    )
    .await;
    set_plan(&platform, owner.tenant, "pro").await;
    let on = json_ok(
        patch(&platform, &path, token, Some("3"), &json!({"active": true})).await,
        200,
    )
    .await;
    assert_eq!(on["version"], 4);

    // Permissions.
    let reader = platform.token(owner.tenant, &["locations:read"]);
    problem(
        post(&platform, "/v1/locations", &reader, &json!({"name": "X"})).await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        patch(&platform, &path, &reader, Some("4"), &rename).await,
        403,
        "permission_denied",
    )
    .await;
    let nobody = platform.token(owner.tenant, &[]);
    problem(
        get(&platform, "/v1/locations", &nobody).await,
        403,
        "permission_denied",
    )
    .await;

    assert_eq!(
        audit_count(&platform, owner.tenant, "platform.location.created").await,
        1
    );
    assert_eq!(
        audit_count(&platform, owner.tenant, "platform.location.updated").await,
        3
    );
    let (before, after): (Value, Value) = platform
        .admin()
        .await
        .query_one(
            "SELECT before, after FROM audit.events
             WHERE tenant_id = $1 AND action = 'platform.location.updated' ORDER BY id LIMIT 1",
            &[&owner.tenant],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(before, json!({"name": "Quay side", "version": 1}));
    assert_eq!(after, json!({"name": "Quay", "version": 2}));
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_locations_and_users_are_not_found_and_unchanged() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "alpha").await;
    let b = sign_up(&platform, "bravo").await;
    let path = format!("/v1/locations/{}", a.location);

    problem(get(&platform, &path, &b.token).await, 404, "not_found").await;
    problem(
        patch(
            &platform,
            &path,
            &b.token,
            Some("1"),
            &json!({"name": "Mine now"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        post(
            &platform,
            &format!("{path}/devices"),
            &b.token,
            &json!({"name": "Rogue till"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let page = json_ok(get(&platform, "/v1/locations", &b.token).await, 200).await;
    let ids: Vec<Uuid> = page["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [b.location]);

    // A's owner id, seen from B: not found, PIN untouched.
    let a_owner: Uuid = platform
        .admin()
        .await
        .query_one(
            "SELECT id FROM auth.users WHERE tenant_id = $1",
            &[&a.tenant],
        )
        .await
        .unwrap()
        .get(0);
    problem(
        put_pin(&platform, a_owner, &b.token, "1234").await,
        404,
        "not_found",
    )
    .await;

    let admin = platform.admin().await;
    let row = admin
        .query_one(
            "SELECT name, version FROM platform.locations WHERE id = $1",
            &[&a.location],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Main street");
    assert_eq!(row.get::<_, i32>(1), 1);
    let pin: Option<String> = admin
        .query_one("SELECT pin_hash FROM auth.users WHERE id = $1", &[&a_owner])
        .await
        .unwrap()
        .get(0);
    assert!(pin.is_none());
    assert_eq!(
        count(
            &platform,
            "SELECT count(*) FROM auth.devices WHERE tenant_id = $1",
            a.tenant
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &platform,
            "SELECT count(*) FROM audit.events WHERE tenant_id = $1
             AND (action LIKE 'platform.location.%' OR action LIKE 'auth.device.%'
                  OR action LIKE 'auth.pin.%')",
            a.tenant
        )
        .await,
        0,
        "no location, device or PIN change audited for tenant A"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_login_at_a_device_gives_a_token_limited_to_its_location() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "dock").await;
    set_plan(&platform, owner.tenant, "pro").await;
    let loc_a = owner.location;
    let loc_b = id(&create_location(&platform, &owner.token, "Pier B").await);

    // Devices.
    let response = post(
        &platform,
        &format!("/v1/locations/{loc_a}/devices"),
        &owner.token,
        &json!({"name": " Till A1 "}),
    )
    .await;
    let device = json_ok(response, 201).await;
    let till_a: Uuid = id(&device);
    assert_eq!(device["location_id"], loc_a.to_string());
    assert_eq!(device["name"], "Till A1");
    let till_b = register_device(&platform, &owner.token, loc_b, "Till B1").await;
    let directory: Uuid = platform
        .admin()
        .await
        .query_one(
            "SELECT tenant_id FROM auth.device_directory WHERE device_id = $1",
            &[&till_a],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(directory, owner.tenant);
    problem(
        post(
            &platform,
            &format!("/v1/locations/{loc_a}/devices"),
            &owner.token,
            &json!({"name": ""}),
        )
        .await,
        422,
        "invalid_name",
    )
    .await;
    problem(
        post(
            &platform,
            &format!("/v1/locations/{}/devices", Uuid::now_v7()),
            &owner.token,
            &json!({"name": "Ghost"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.device.registered").await,
        2
    );

    // A manager of location A only, with a PIN set by the owner.
    let area = role(
        &platform,
        owner.tenant,
        "area-manager",
        &["locations:read", "locations:write", "devices:write"],
    )
    .await;
    let sam = user(
        &platform,
        owner.tenant,
        "sam@dock.example",
        area,
        Some(vec![loc_a]),
    )
    .await;
    problem(
        put_pin(&platform, sam, &owner.token, "12a4").await,
        422,
        "invalid_pin",
    )
    .await;
    problem(
        put_pin(&platform, sam, &owner.token, "123").await,
        422,
        "invalid_pin",
    )
    .await;
    let response = put_pin(&platform, sam, &owner.token, "4821").await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.pin.set").await,
        1
    );

    // PIN login at A: a token for A only, with the grants that cover A.
    let tokens = json_ok(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "user_id": sam, "pin": "4821"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(tokens["location_id"], loc_a.to_string());
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["locs"], json!([loc_a]));
    assert_eq!(c["sub"], sam.to_string());
    assert_eq!(c["tid"], owner.tenant.to_string());
    assert_eq!(c["sid"], tokens["session_id"]);
    assert_eq!(
        c["perms"],
        json!(["devices:write", "locations:read", "locations:write"])
    );
    let session: Uuid = tokens["session_id"].as_str().unwrap().parse().unwrap();
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT method, device, extract(epoch FROM expires_at - created_at)::bigint
             FROM auth.sessions WHERE id = $1",
            &[&session],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "pin");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("Till A1"));
    let lifetime: i64 = row.get(2);
    assert!(
        (12 * 3600 - 60..=12 * 3600 + 60).contains(&lifetime),
        "{lifetime}"
    );

    // By email too.
    json_ok(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "email": " SAM@dock.example ", "pin": "4821"}),
        )
        .await,
        200,
    )
    .await;

    // The limited token sees and changes location A only.
    let page = json_ok(get(&platform, "/v1/locations", &token).await, 200).await;
    let ids: Vec<Uuid> = page["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [loc_a]);
    json_ok(
        get(&platform, &format!("/v1/locations/{loc_a}"), &token).await,
        200,
    )
    .await;
    let denied = problem(
        get(&platform, &format!("/v1/locations/{loc_b}"), &token).await,
        403,
        "location_denied",
    )
    .await;
    assert_eq!(denied["location_id"], loc_b.to_string());
    problem(
        patch(
            &platform,
            &format!("/v1/locations/{loc_b}"),
            &token,
            Some("1"),
            &json!({"name": "Taken"}),
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    problem(
        post(
            &platform,
            &format!("/v1/locations/{loc_b}/devices"),
            &token,
            &json!({"name": "Sneaky"}),
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    let renamed = json_ok(
        patch(
            &platform,
            &format!("/v1/locations/{loc_a}"),
            &token,
            Some("1"),
            &json!({"name": "Main street East"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["version"], 2);
    let b_name: String = platform
        .admin()
        .await
        .query_one(
            "SELECT name FROM platform.locations WHERE id = $1",
            &[&loc_b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(b_name, "Pier B");

    // At a device of location B the same PIN is refused like any wrong credential.
    let wrong_place = problem(
        pin_login(
            &platform,
            &json!({"device_id": till_b, "user_id": sam, "pin": "4821"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let wrong_pin = problem(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "user_id": sam, "pin": "0000"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown_device = problem(
        pin_login(
            &platform,
            &json!({"device_id": Uuid::now_v7(), "user_id": sam, "pin": "4821"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let malformed_device = problem(
        pin_login(
            &platform,
            &json!({"device_id": "till-1", "user_id": sam, "pin": "4821"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown_user = problem(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "email": "nobody@dock.example", "pin": "4821"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    for other in [
        &wrong_pin,
        &unknown_device,
        &malformed_device,
        &unknown_user,
    ] {
        assert_eq!(&wrong_place, other);
    }
    problem(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "user_id": sam, "email": "sam@dock.example", "pin": "4821"}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // A revoked device no longer signs anyone in.
    platform
        .admin()
        .await
        .execute(
            "UPDATE auth.devices SET revoked_at = now() WHERE id = $1",
            &[&till_a],
        )
        .await
        .unwrap();
    problem(
        pin_login(
            &platform,
            &json!({"device_id": till_a, "user_id": sam, "pin": "4821"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;

    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.pin_login.succeeded").await,
        2
    );
    assert_eq!(
        audit_count(&platform, owner.tenant, "auth.pin_login.failed").await,
        4,
        "failures with a known tenant are audited (a malformed or unknown device names none)"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_pin_sign_in_and_setting_the_pin_unlocks_it() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "lockout").await;
    let till = register_device(&platform, &owner.token, owner.location, "Till").await;
    let staff: Uuid = platform
        .admin()
        .await
        .query_one(
            "SELECT id FROM auth.roles WHERE tenant_id = $1 AND name = 'staff'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    let pat = user(&platform, owner.tenant, "pat@lockout.example", staff, None).await;

    // No PIN yet: refused like a wrong one.
    problem(
        pin_login(
            &platform,
            &json!({"device_id": till, "user_id": pat, "pin": "1111"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        put_pin(&platform, pat, &owner.token, "246810")
            .await
            .status(),
        204
    );

    for _ in 0..5 {
        problem(
            pin_login(
                &platform,
                &json!({"device_id": till, "user_id": pat, "pin": "999999"}),
            )
            .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let response = pin_login(
        &platform,
        &json!({"device_id": till, "user_id": pat, "pin": "246810"}),
    )
    .await;
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((14 * 60..=15 * 60).contains(&retry), "{retry}");
    let body = problem(response, 429, "account_locked").await;
    assert!(body["retry_after"].as_i64().unwrap() > 0);
    let locked_audit: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit.events WHERE tenant_id = $1
             AND action = 'auth.pin_login.failed' AND details ? 'locked_until'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(locked_audit, 1);

    // The password sign-in of the same user is not locked by PIN failures.
    let failed_logins: i32 = platform
        .admin()
        .await
        .query_one(
            "SELECT failed_logins FROM auth.users WHERE id = $1",
            &[&pat],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed_logins, 0);

    // Only the user or an admin with users:write may set a PIN; setting it clears the lockout.
    let stranger = platform.token(owner.tenant, &["locations:read"]);
    problem(
        put_pin(&platform, pat, &stranger, "1357").await,
        403,
        "permission_denied",
    )
    .await;
    // users:write alone does not let anyone give themselves the owner's sign-in.
    let owner_id: Uuid = claims(&owner.token)["sub"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let user_admin = platform.token(owner.tenant, &["users:write"]);
    problem(
        put_pin(&platform, owner_id, &user_admin, "1357").await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(
        put_pin(&platform, pat, &owner.token, "1357").await.status(),
        204
    );
    let tokens = json_ok(
        pin_login(
            &platform,
            &json!({"device_id": till, "user_id": pat, "pin": "1357"}),
        )
        .await,
        200,
    )
    .await;
    // Pat changes their own PIN with their own token (no users:write needed).
    let own = tokens["access_token"].as_str().unwrap();
    assert_eq!(put_pin(&platform, pat, own, "97531").await.status(), 204);
    json_ok(
        pin_login(
            &platform,
            &json!({"device_id": till, "email": "pat@lockout.example", "pin": "97531"}),
        )
        .await,
        200,
    )
    .await;
    let own_audit: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit.events WHERE tenant_id = $1
             AND action = 'auth.pin.set' AND details->>'own' = 'true'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(own_audit, 1);
    platform.stop().await;
}
