//! Modifier groups through the whole platform: creation with its validation codes, versioned
//! PATCHes of the group and its modifier list (428/412, unknown and duplicate modifiers, limits
//! re-checked, an unchanged PATCH writes nothing), archiving, the paginated list, tenant
//! isolation and permissions; then modifier selection as pricing sees it
//! (`olympus::catalog::pricing::resolve_item` in a tenant transaction of the app role): valid
//! picks priced, each selection rule with its code, another tenant's modifier unknown, and the
//! location overrides (price, hidden, sold out).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::{TestPlatform, audit_count, problem, sign_up};
use olympus::catalog::modifiers::Pick;
use olympus::catalog::pricing::{ResolvedItem, resolve_item};
use serde_json::{Value, json};
use uuid::Uuid;

async fn get(platform: &TestPlatform, token: &str, path: &str) -> reqwest::Response {
    platform
        .request(reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

async fn post(platform: &TestPlatform, token: &str, path: &str, body: &Value) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn patch(
    platform: &TestPlatform,
    token: &str,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let path = format!("/v1/modifier-groups/{id}");
    let mut builder = platform
        .request(reqwest::Method::PATCH, &path, token)
        .json(body);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    builder.send().await.unwrap()
}

/// Asserts `status` and returns the JSON body.
async fn ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

fn uuid(value: &Value) -> Uuid {
    text(value).parse().unwrap()
}

/// The id of the modifier named `name` in a group body.
fn modifier(group: &Value, name: &str) -> Uuid {
    let found = group["modifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no modifier {name} in {group}"));
    uuid(&found["id"])
}

fn names(group: &Value) -> Vec<String> {
    group["modifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| text(&m["name"]).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modifier_groups_are_created_patched_archived_and_listed() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "mods").await;
    let token = &owner.token;

    let response = post(
        &platform,
        token,
        "/v1/modifier-groups",
        &json!({"name": " Size ", "min_selections": 1, "max_selections": 1,
                "modifiers": [{"name": "Small"}, {"name": "Large", "price_delta_minor": 50}]}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let size = ok(response, 201).await;
    let id = text(&size["id"]).to_owned();
    assert_eq!(location, format!("/v1/modifier-groups/{id}"));
    assert_eq!(size["name"], "Size");
    assert_eq!(size["version"], 1);
    assert_eq!(names(&size), ["Small", "Large"]);
    assert_eq!(size["modifiers"][1]["price_delta_minor"], 50);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.modifier_group.created").await,
        1
    );

    // Creation codes.
    for (body, code) in [
        (
            json!({"name": "X", "min_selections": 2, "max_selections": 1,
                   "modifiers": [{"name": "A"}, {"name": "B"}]}),
            "invalid_selection_limits",
        ),
        (
            json!({"name": "X", "min_selections": 3, "modifiers": [{"name": "A"}, {"name": "B"}]}),
            "invalid_selection_limits",
        ),
        (
            json!({"name": "X", "max_selections": 0}),
            "invalid_selection_limits",
        ),
        (
            json!({"name": "X", "modifiers": [{"name": "Oat"}, {"name": " oat "}]}),
            "duplicate_modifier",
        ),
        (
            json!({"name": "X", "modifiers": [{"id": Uuid::now_v7(), "name": "A"}]}),
            "unexpected_modifier_id",
        ),
        (json!({"name": " "}), "invalid_name"),
        (
            json!({"name": "X", "modifiers": [{"name": "A", "price_delta_minor": 1_000_000_000_000_i64}]}),
            "invalid_price",
        ),
        (json!({"name": "X", "colour": "red"}), "invalid_body"),
    ] {
        problem(
            post(&platform, token, "/v1/modifier-groups", &body).await,
            422,
            code,
        )
        .await;
    }

    // If-Match is required and must be current.
    problem(
        patch(&platform, token, &id, None, &json!({"name": "Sizes"})).await,
        428,
        "precondition_required",
    )
    .await;
    let stale = problem(
        patch(
            &platform,
            token,
            &id,
            Some("\"2\""),
            &json!({"name": "Sizes"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(stale["current_version"], 1);

    // A PATCH that changes nothing writes nothing: same version, same change_seq, no audit.
    let small = modifier(&size, "Small");
    let large = modifier(&size, "Large");
    let same = ok(
        patch(
            &platform,
            token,
            &id,
            Some("\"1\""),
            &json!({"name": "Size", "max_selections": 1, "modifiers": [
                {"id": small, "name": "Small"},
                {"id": large, "name": "Large", "price_delta_minor": 50}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(same["version"], 1);
    assert_eq!(same["change_seq"], size["change_seq"]);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.modifier_group.updated").await,
        0
    );

    // The modifier list: keep Small (renamed), add Medium, drop Large (archived).
    let response = patch(
        &platform,
        token,
        &id,
        Some("1"),
        &json!({"modifiers": [{"id": small, "name": "Regular"},
                              {"name": "Medium", "price_delta_minor": 25}]}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed = ok(response, 200).await;
    assert_eq!(changed["version"], 2);
    assert!(changed["change_seq"].as_i64() > size["change_seq"].as_i64());
    assert_eq!(names(&changed), ["Regular", "Medium"]);
    assert_eq!(modifier(&changed, "Regular"), small);
    let admin = platform.admin().await;
    let archived: Option<chrono::DateTime<Utc>> = admin
        .query_one(
            "SELECT archived_at FROM catalog.modifiers WHERE id = $1",
            &[&large],
        )
        .await
        .unwrap()
        .get(0);
    assert!(archived.is_some());
    let body = ok(
        post(
            &platform,
            token,
            "/v1/modifier-groups",
            &json!({"name": "Milk", "modifiers": [{"name": "Oat"}]}),
        )
        .await,
        201,
    )
    .await;
    let oat = modifier(&body, "Oat");

    // Ids must be live modifiers of this group; limits are checked on the result.
    for (body, code) in [
        (
            json!({"modifiers": [{"id": large, "name": "Large"}]}),
            "unknown_modifier",
        ),
        (
            json!({"modifiers": [{"id": oat, "name": "Oat"}]}),
            "unknown_modifier",
        ),
        (
            json!({"modifiers": [{"id": small, "name": "A"}, {"id": small, "name": "B"}]}),
            "duplicate_modifier",
        ),
        (
            json!({"modifiers": [{"name": "A"}, {"name": "a"}]}),
            "duplicate_modifier",
        ),
        (json!({"min_selections": 3}), "invalid_selection_limits"),
        (json!({"modifiers": []}), "invalid_selection_limits"),
        (json!({"name": ""}), "invalid_name"),
        (json!({"id": Uuid::now_v7()}), "invalid_body"),
    ] {
        let body = problem(
            patch(&platform, token, &id, Some("2"), &body).await,
            422,
            code,
        )
        .await;
        if code == "unknown_modifier" {
            assert!(body["modifier_id"].is_string());
        }
    }

    // null max_selections is unbounded; with repeats, min may exceed the modifier count.
    let unbounded = ok(
        patch(
            &platform,
            token,
            &id,
            Some("2"),
            &json!({"max_selections": null, "allow_repeats": true, "min_selections": 3}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(unbounded["max_selections"], Value::Null);
    assert_eq!(unbounded["min_selections"], 3);
    assert_eq!(unbounded["version"], 3);

    // Archive: gone from the default list, kept with include_archived, restorable.
    let archived = ok(
        patch(&platform, token, &id, Some("3"), &json!({"archived": true})).await,
        200,
    )
    .await;
    assert!(archived["archived_at"].is_string());
    let page = ok(get(&platform, token, "/v1/modifier-groups").await, 200).await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| text(&g["id"]))
        .collect();
    assert!(!listed.contains(&id.as_str()));
    assert_eq!(listed.len(), 1);
    let page = ok(
        get(
            &platform,
            token,
            "/v1/modifier-groups?include_archived=true",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let restored = ok(
        patch(
            &platform,
            token,
            &id,
            Some("4"),
            &json!({"archived": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(restored["archived_at"], Value::Null);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.modifier_group.updated").await,
        4
    );

    // Pagination: newest first, every group once.
    for n in 0..3 {
        post(
            &platform,
            token,
            "/v1/modifier-groups",
            &json!({"name": format!("Extra {n}")}),
        )
        .await;
    }
    let first = ok(
        get(&platform, token, "/v1/modifier-groups?limit=3").await,
        200,
    )
    .await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["name"], "Extra 2");
    let cursor = text(&first["next_cursor"]);
    let second = ok(
        get(
            &platform,
            token,
            &format!("/v1/modifier-groups?limit=3&cursor={cursor}"),
        )
        .await,
        200,
    )
    .await;
    let rest: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| text(&g["name"]))
        .collect();
    assert_eq!(rest, ["Milk", "Size"]);
    assert_eq!(second["next_cursor"], Value::Null);
    problem(
        get(&platform, token, "/v1/modifier-groups?limit=0").await,
        422,
        "invalid_limit",
    )
    .await;

    // Another tenant sees none of it and cannot change it.
    let other = sign_up(&platform, "mods-other").await;
    let page = ok(
        get(
            &platform,
            &other.token,
            "/v1/modifier-groups?include_archived=true",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"], json!([]));
    problem(
        patch(
            &platform,
            &other.token,
            &id,
            Some("5"),
            &json!({"name": "Mine"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        patch(&platform, token, "not-a-uuid", Some("1"), &json!({})).await,
        404,
        "not_found",
    )
    .await;

    // catalog:read lists but does not write.
    let reader = platform.token(owner.tenant, &["catalog:read"]);
    ok(get(&platform, &reader, "/v1/modifier-groups").await, 200).await;
    problem(
        post(
            &platform,
            &reader,
            "/v1/modifier-groups",
            &json!({"name": "Nope"}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        patch(&platform, &reader, &id, Some("5"), &json!({"name": "Nope"})).await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

/// Resolves one item in a tenant transaction on a connection of the app role (RLS applies).
async fn resolve(
    platform: &TestPlatform,
    tenant: Uuid,
    location: Uuid,
    variant: Uuid,
    picks: &[(Uuid, u32)],
) -> Result<ResolvedItem, String> {
    let pool = platform.db.app_pool();
    let mut client = pool.get().await.unwrap();
    let tx = olympus::db::tenant_tx(&mut client, tenant).await.unwrap();
    let picks: Vec<Pick> = picks
        .iter()
        .map(|(modifier_id, quantity)| Pick {
            modifier_id: *modifier_id,
            quantity: *quantity,
        })
        .collect();
    let result = resolve_item(&tx, location, variant, &picks, Utc::now()).await;
    tx.rollback().await.unwrap();
    result.map_err(|e| e.code().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modifier_selection_is_checked_and_priced() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "picks").await;
    let token = &owner.token;
    let size = ok(
        post(
            &platform,
            token,
            "/v1/modifier-groups",
            &json!({"name": "Size", "key": "size", "min_selections": 1, "max_selections": 1,
                    "modifiers": [{"name": "Regular"}, {"name": "Large", "price_delta_minor": 50}]}),
        )
        .await,
        201,
    )
    .await;
    let extras = ok(
        post(
            &platform,
            token,
            "/v1/modifier-groups",
            &json!({"name": "Extras", "key": "extras", "min_selections": 0, "max_selections": 3,
                    "allow_repeats": true,
                    "modifiers": [{"name": "Shot", "price_delta_minor": 50},
                                  {"name": "Less ice", "price_delta_minor": -20}]}),
        )
        .await,
        201,
    )
    .await;
    let imported = ok(
        post(
            &platform,
            token,
            "/v1/catalog/import",
            &json!({"products": [{"key": "latte", "name": "Latte", "price_minor": 400,
                                  "modifier_group_keys": ["size", "extras"]}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(imported["created"], 1);
    let admin = platform.admin().await;
    let variant: Uuid = admin
        .query_one(
            "SELECT id FROM catalog.variants WHERE tenant_id = $1 AND external_key = 'latte'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    let (regular, large) = (modifier(&size, "Regular"), modifier(&size, "Large"));
    let (shot, less_ice) = (modifier(&extras, "Shot"), modifier(&extras, "Less ice"));
    let at = owner.location;
    let tenant = owner.tenant;

    // Valid picks: base + Σ delta × quantity.
    let item = resolve(
        &platform,
        tenant,
        at,
        variant,
        &[(large, 1), (shot, 2), (less_ice, 1)],
    )
    .await
    .unwrap();
    assert_eq!(item.base_price_minor, 400);
    assert_eq!(item.unit_price_minor, 400 + 50 + 2 * 50 - 20);
    assert_eq!(item.modifiers.len(), 3);
    let item = resolve(&platform, tenant, at, variant, &[(regular, 1)])
        .await
        .unwrap();
    assert_eq!(item.unit_price_minor, 400);

    // Each rule with its code.
    let code = |picks: Vec<(Uuid, u32)>| {
        let platform = &platform;
        async move {
            resolve(platform, tenant, at, variant, &picks)
                .await
                .unwrap_err()
        }
    };
    assert_eq!(code(vec![]).await, "too_few_modifiers");
    assert_eq!(code(vec![(shot, 1)]).await, "too_few_modifiers");
    assert_eq!(
        code(vec![(regular, 1), (large, 1)]).await,
        "too_many_modifiers"
    );
    assert_eq!(
        code(vec![(regular, 1), (shot, 3), (less_ice, 1)]).await,
        "too_many_modifiers"
    );
    assert_eq!(code(vec![(large, 2)]).await, "modifier_repeated");
    assert_eq!(
        code(vec![(large, 1), (large, 1)]).await,
        "modifier_repeated"
    );
    assert_eq!(
        code(vec![(regular, 1), (Uuid::now_v7(), 1)]).await,
        "unknown_modifier"
    );

    // Another tenant's modifier is unknown here, and this tenant's variant unknown there.
    let other = sign_up(&platform, "picks-other").await;
    let theirs = ok(
        post(
            &platform,
            &other.token,
            "/v1/modifier-groups",
            &json!({"name": "Size", "modifiers": [{"name": "Huge", "price_delta_minor": 1}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        code(vec![(regular, 1), (modifier(&theirs, "Huge"), 1)]).await,
        "unknown_modifier"
    );
    assert_eq!(
        resolve(
            &platform,
            other.tenant,
            other.location,
            variant,
            &[(regular, 1)]
        )
        .await
        .unwrap_err(),
        "unknown_variant"
    );

    // An archived modifier is no longer offered.
    let patched = ok(
        patch(
            &platform,
            token,
            text(&extras["id"]),
            Some("1"),
            &json!({"modifiers": [{"id": shot, "name": "Shot", "price_delta_minor": 50}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&patched), ["Shot"]);
    assert_eq!(
        code(vec![(regular, 1), (less_ice, 1)]).await,
        "unknown_modifier"
    );

    // The location's override price is the base; hidden and sold out refuse the item.
    admin
        .execute(
            "INSERT INTO catalog.variant_locations (id, tenant_id, variant_id, location_id,
                                                    price_minor)
             VALUES ($1, $2, $3, $4, 450)",
            &[&Uuid::now_v7(), &tenant, &variant, &at],
        )
        .await
        .unwrap();
    let item = resolve(&platform, tenant, at, variant, &[(large, 1)])
        .await
        .unwrap();
    assert_eq!(item.base_price_minor, 450);
    assert_eq!(item.unit_price_minor, 500);
    admin
        .execute(
            "UPDATE catalog.variant_locations SET sold_out_until = $3
             WHERE variant_id = $1 AND location_id = $2",
            &[&variant, &at, &(Utc::now() + Duration::hours(2))],
        )
        .await
        .unwrap();
    assert_eq!(code(vec![(regular, 1)]).await, "sold_out");
    admin
        .execute(
            "UPDATE catalog.variant_locations SET sold_out_until = $3
             WHERE variant_id = $1 AND location_id = $2",
            &[&variant, &at, &(Utc::now() - Duration::minutes(1))],
        )
        .await
        .unwrap();
    assert_eq!(
        resolve(&platform, tenant, at, variant, &[(regular, 1)])
            .await
            .unwrap()
            .unit_price_minor,
        450
    );
    admin
        .execute(
            "UPDATE catalog.variant_locations SET hidden = true
             WHERE variant_id = $1 AND location_id = $2",
            &[&variant, &at],
        )
        .await
        .unwrap();
    assert_eq!(code(vec![(regular, 1)]).await, "variant_unavailable");
    platform.stop().await;
}
