//! The offline change feed (`GET /v1/catalog/changes`) through the whole platform: paging with
//! a small limit returns every catalog change exactly once, in `change_seq` order, with the
//! objects as they are; a resync from the last cursor returns exactly what changed since
//! (archived flagged); an empty page keeps the cursor; other tenants' changes never show; bad
//! cursors and limits are refused; and a reader paging while several writers commit ends up
//! having seen the final state of every object.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use common::{TestPlatform, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

async fn send(
    platform: &TestPlatform,
    method: reqwest::Method,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut builder = platform
        .http
        .request(method, platform.url(path))
        .bearer_auth(token);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    builder.send().await.unwrap()
}

async fn ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn post(platform: &TestPlatform, token: &str, path: &str, body: &Value) -> Value {
    let response = send(
        platform,
        reqwest::Method::POST,
        token,
        path,
        None,
        Some(body),
    )
    .await;
    let status = response.status().as_u16();
    ok(response, if status == 201 { 201 } else { 200 }).await
}

async fn patch_group(
    platform: &TestPlatform,
    token: &str,
    id: &str,
    version: i64,
    body: &Value,
) -> Value {
    let path = format!("/v1/modifier-groups/{id}");
    let version = version.to_string();
    ok(
        send(
            platform,
            reqwest::Method::PATCH,
            token,
            &path,
            Some(&version),
            Some(body),
        )
        .await,
        200,
    )
    .await
}

async fn page(platform: &TestPlatform, token: &str, since: &str, limit: usize) -> Value {
    let path = format!("/v1/catalog/changes?since={since}&limit={limit}");
    ok(
        send(platform, reqwest::Method::GET, token, &path, None, None).await,
        200,
    )
    .await
}

/// Every (kind, id) → change_seq of the tenant's catalog, read as the superuser.
async fn catalog_state(platform: &TestPlatform, tenant: Uuid) -> BTreeMap<(String, Uuid), i64> {
    let rows = platform
        .admin()
        .await
        .query(
            "SELECT 'category', id, change_seq FROM catalog.categories WHERE tenant_id = $1
             UNION ALL SELECT 'product', id, change_seq FROM catalog.products WHERE tenant_id = $1
             UNION ALL SELECT 'variant', id, change_seq FROM catalog.variants WHERE tenant_id = $1
             UNION ALL SELECT 'modifier_group', id, change_seq FROM catalog.modifier_groups
                       WHERE tenant_id = $1
             UNION ALL SELECT 'tax_rate', id, change_seq FROM catalog.tax_rates WHERE tenant_id = $1
             UNION ALL SELECT 'variant_location', id, change_seq FROM catalog.variant_locations
                       WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| ((r.get::<_, String>(0), r.get(1)), r.get(2)))
        .collect()
}

fn key(item: &Value) -> (String, Uuid) {
    (
        item["kind"].as_str().unwrap().to_owned(),
        item["id"].as_str().unwrap().parse().unwrap(),
    )
}

/// Pages from `since` with `limit` until the feed is drained; returns the items and the cursor.
async fn drain(
    platform: &TestPlatform,
    token: &str,
    since: &str,
    limit: usize,
) -> (Vec<Value>, String) {
    let mut cursor = since.to_owned();
    let mut items = Vec::new();
    loop {
        let body = page(platform, token, &cursor, limit).await;
        let batch = body["items"].as_array().unwrap();
        assert!(batch.len() <= limit);
        items.extend(batch.iter().cloned());
        let next = body["next_cursor"].as_str().unwrap().to_owned();
        if let Some(last) = batch.last() {
            assert_eq!(next, last["change_seq"].to_string());
        }
        if !body["has_more"].as_bool().unwrap() {
            return (items, next);
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_returns_every_change_once_and_then_only_what_changed() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "feed").await;
    let token = &owner.token;

    // A mix of objects: categories, groups, products with variants, a tax rate, an override.
    post(
        &platform,
        token,
        "/v1/catalog/import",
        &json!({
            "categories": [{"key": "food", "name": "Food"},
                           {"key": "burgers", "name": "Burgers", "parent_key": "food"}],
            "modifier_groups": [{"key": "sauce", "name": "Sauce",
                                 "modifiers": [{"name": "Ketchup"}, {"name": "Mayo"}]}],
            "products": [
                {"key": "burger", "name": "Burger", "category_key": "burgers", "price_minor": 900,
                 "modifier_group_keys": ["sauce"]},
                {"key": "fries", "name": "Fries", "options": [{"name": "Size", "values": ["S", "L"]}],
                 "variants": [{"key": "fries-s", "option_values": {"Size": "S"}, "price_minor": 300},
                              {"key": "fries-l", "option_values": {"Size": "L"}, "price_minor": 400}]}
            ]
        }),
    )
    .await;
    let extra = post(
        &platform,
        token,
        "/v1/modifier-groups",
        &json!({"name": "Extras", "modifiers": [{"name": "Cheese", "price_delta_minor": 80}]}),
    )
    .await;
    let admin = platform.admin().await;
    let variant: Uuid = admin
        .query_one(
            "SELECT id FROM catalog.variants WHERE tenant_id = $1 AND external_key = 'fries-l'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    admin
        .execute(
            "INSERT INTO catalog.tax_rates (id, tenant_id, name, tax_category, rate_bps)
             VALUES ($1, $2, 'VAT', 'standard', 2000)",
            &[&Uuid::now_v7(), &owner.tenant],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO catalog.variant_locations (id, tenant_id, variant_id, location_id,
                                                    price_minor)
             VALUES ($1, $2, $3, $4, 420)",
            &[&Uuid::now_v7(), &owner.tenant, &variant, &owner.location],
        )
        .await
        .unwrap();
    let state = catalog_state(&platform, owner.tenant).await;
    assert_eq!(state.len(), 11);

    // Paging with a small limit: every object exactly once, in change_seq order, as it is.
    let (items, cursor) = drain(&platform, token, "", 3).await;
    let seqs: Vec<i64> = items
        .iter()
        .map(|i| i["change_seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let seen: BTreeMap<(String, Uuid), i64> = items
        .iter()
        .map(|i| (key(i), i["change_seq"].as_i64().unwrap()))
        .collect();
    assert_eq!(seen.len(), items.len(), "an object came twice");
    assert_eq!(seen, state);
    assert_eq!(cursor, seqs.last().unwrap().to_string());
    for item in &items {
        assert_eq!(item["archived"], false);
        assert_eq!(item["object"]["id"], item["id"]);
        assert_eq!(item["object"]["change_seq"], item["change_seq"]);
    }
    let burger = items
        .iter()
        .find(|i| i["kind"] == "product" && i["object"]["name"] == "Burger")
        .unwrap();
    assert!(burger["object"].get("variants").is_none());
    assert_eq!(
        burger["object"]["modifier_group_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let sauce = items
        .iter()
        .find(|i| i["kind"] == "modifier_group" && i["object"]["name"] == "Sauce")
        .unwrap();
    assert_eq!(sauce["object"]["modifiers"].as_array().unwrap().len(), 2);
    let override_item = items
        .iter()
        .find(|i| i["kind"] == "variant_location")
        .unwrap();
    assert_eq!(override_item["object"]["price_minor"], 420);

    // Nothing new: an empty page hands the same cursor back.
    let empty = page(&platform, token, &cursor, 3).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["next_cursor"], cursor.as_str());
    assert_eq!(empty["has_more"], false);

    // One update and one archive: the resync returns exactly those two.
    let sauce_id = sauce["id"].as_str().unwrap();
    patch_group(&platform, token, sauce_id, 1, &json!({"name": "Sauces"})).await;
    let extra_id = extra["id"].as_str().unwrap();
    patch_group(&platform, token, extra_id, 1, &json!({"archived": true})).await;
    let (resync, next) = drain(&platform, token, &cursor, 3).await;
    assert_eq!(resync.len(), 2, "{resync:?}");
    assert_eq!(resync[0]["id"], sauce_id);
    assert_eq!(resync[0]["archived"], false);
    assert_eq!(resync[0]["object"]["name"], "Sauces");
    assert_eq!(resync[1]["id"], extra_id);
    assert_eq!(resync[1]["archived"], true);
    assert!(resync[1]["object"]["archived_at"].is_string());
    assert_eq!(next, resync[1]["change_seq"].to_string());
    // An unchanged PATCH stamps nothing.
    patch_group(&platform, token, sauce_id, 2, &json!({"name": "Sauces"})).await;
    assert_eq!(page(&platform, token, &next, 10).await["items"], json!([]));

    // Another tenant's feed never shows them, and starts empty at cursor "0".
    let other = sign_up(&platform, "feed-other").await;
    let theirs = page(&platform, &other.token, "", 1000).await;
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(theirs["next_cursor"], "0");
    post(
        &platform,
        &other.token,
        "/v1/modifier-groups",
        &json!({"name": "Theirs"}),
    )
    .await;
    let (theirs, _) = drain(&platform, &other.token, "", 1000).await;
    assert_eq!(theirs.len(), 1);
    let ours: HashSet<(String, Uuid)> = state.keys().cloned().collect();
    assert!(!ours.contains(&key(&theirs[0])));
    let (ours_again, _) = drain(&platform, token, "", 1000).await;
    assert_eq!(ours_again.len(), 11);
    assert!(ours_again.iter().all(|i| ours.contains(&key(i))));

    // Bad cursors and limits.
    for since in ["abc", "-1", "1.5", "99999999999999999999"] {
        problem(
            send(
                &platform,
                reqwest::Method::GET,
                token,
                &format!("/v1/catalog/changes?since={since}"),
                None,
                None,
            )
            .await,
            400,
            "invalid_cursor",
        )
        .await;
    }
    for limit in ["0", "1001"] {
        problem(
            send(
                &platform,
                reqwest::Method::GET,
                token,
                &format!("/v1/catalog/changes?limit={limit}"),
                None,
                None,
            )
            .await,
            422,
            "invalid_limit",
        )
        .await;
    }
    let nobody = platform.token(owner.tenant, &["orders:read"]);
    problem(
        send(
            &platform,
            reqwest::Method::GET,
            &nobody,
            "/v1/catalog/changes",
            None,
            None,
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_paging_during_concurrent_writes_ends_with_the_final_state() {
    let platform = Arc::new(TestPlatform::start(None).await);
    let owner = sign_up(&platform, "feed-race").await;
    let token = Arc::new(owner.token.clone());

    const WRITERS: usize = 4;
    const ROUNDS: usize = 8;
    let mut groups = Vec::new();
    for w in 0..WRITERS {
        let group = post(
            &platform,
            &token,
            "/v1/modifier-groups",
            &json!({"name": format!("W{w}"), "modifiers": [{"name": "A"}]}),
        )
        .await;
        groups.push(group["id"].as_str().unwrap().to_owned());
    }

    // Writers: each renames its own group round after round and creates new groups; one also
    // re-imports a product with a new price each round.
    let mut writers = Vec::new();
    for (w, group) in groups.iter().cloned().enumerate() {
        let platform = Arc::clone(&platform);
        let token = Arc::clone(&token);
        writers.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let version = i64::try_from(round).unwrap() + 1;
                patch_group(
                    &platform,
                    &token,
                    &group,
                    version,
                    &json!({"name": format!("W{w} r{round}")}),
                )
                .await;
                post(
                    &platform,
                    &token,
                    "/v1/modifier-groups",
                    &json!({"name": format!("W{w} new {round}")}),
                )
                .await;
                if w == 0 {
                    let body = json!({"products": [{"key": "p", "name": "P",
                                                    "price_minor": 100 + round}]});
                    post(&platform, &token, "/v1/catalog/import", &body).await;
                }
            }
        }));
    }

    // The reader: applies every page to its copy until the writers are done and it has caught up.
    let mut copy: BTreeMap<(String, Uuid), (i64, Value)> = BTreeMap::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let finished = writers.iter().all(tokio::task::JoinHandle::is_finished);
        let body = page(&platform, &token, &cursor, 5).await;
        pages += 1;
        let mut last_seq = cursor.parse::<i64>().unwrap_or(0);
        for item in body["items"].as_array().unwrap() {
            let seq = item["change_seq"].as_i64().unwrap();
            assert!(seq > last_seq, "out of order: {seq} after {last_seq}");
            last_seq = seq;
            copy.insert(key(item), (seq, item["object"].clone()));
        }
        cursor = body["next_cursor"].as_str().unwrap().to_owned();
        if finished && !body["has_more"].as_bool().unwrap() {
            break;
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(pages > 1);

    // The copy is the final state: every object, each at its latest change_seq.
    let state = catalog_state(&platform, owner.tenant).await;
    let copied: BTreeMap<(String, Uuid), i64> =
        copy.iter().map(|(k, (seq, _))| (k.clone(), *seq)).collect();
    assert_eq!(copied, state);
    assert_eq!(
        state.len(),
        WRITERS + WRITERS * ROUNDS + 2,
        "groups, new groups, the product and its variant"
    );
    for (w, group) in groups.iter().enumerate() {
        let (_, object) = &copy[&("modifier_group".to_owned(), group.parse().unwrap())];
        assert_eq!(object["name"], format!("W{w} r{}", ROUNDS - 1));
    }
    let variant = copy
        .iter()
        .find(|((kind, _), _)| kind == "variant")
        .unwrap();
    assert_eq!(variant.1.1["price_minor"], 100 + ROUNDS - 1);
    match Arc::try_unwrap(platform) {
        Ok(platform) => platform.stop().await,
        Err(_) => panic!("platform still shared"),
    }
}
