//! Customers through the platform: create, read, patch (`If-Match`), validation and
//! normalisation (email lower-cased, phone in E.164 with the tenant's country for national
//! numbers), unique email and phone per tenant, search by name, email and phone with cursor
//! pages, merging a duplicate (orders, statistics and points move; the duplicate answers 410),
//! the order's customer check, statistics kept idempotently from `sales.order.paid`, tenant
//! isolation and permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support;

use std::time::Duration;

use common::api::{get, id, json_of, patch, send};
use common::{TestPlatform, emulator_or_skip, eventually, problem, sign_up};
use reqwest::Method;
use serde_json::{Value, json};
use support::customer;
use uuid::Uuid;

#[tokio::test]
async fn customers_are_created_validated_read_and_patched() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "cust-crud").await;
    let token = &owner.token;

    let response = send(
        &platform,
        Method::POST,
        "/v1/customers",
        token,
        Some(&json!({
            "name": " Ana Lopez ", "email": "Ana.Lopez@Example.COM", "phone": "+33 6 12 34 56 78",
            "addresses": [{"line1": "1 rue de la Paix", "city": "Paris"}],
            "birthday": "1990-04-01", "notes": "Window table", "allergens": ["Peanuts"],
            "dietary_preferences": ["vegetarian"], "marketing_consent": true
        })),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let ana = json_of(response, 201).await;
    assert_eq!(
        location,
        format!("/v1/customers/{}", ana["id"].as_str().unwrap())
    );
    assert_eq!(ana["name"], "Ana Lopez");
    assert_eq!(ana["email"], "ana.lopez@example.com");
    assert_eq!(ana["phone"], "+33612345678");
    assert_eq!(ana["allergens"], json!(["peanuts"]));
    assert_eq!(ana["marketing_consent"], true);
    assert!(ana["marketing_consent_at"].is_string());
    assert_eq!(
        ana["stats"],
        json!({"order_count": 0, "lifetime_spend_minor": 0, "average_order_minor": 0,
               "first_order_at": null, "last_order_at": null})
    );
    assert_eq!(ana["merged_into"], Value::Null);
    assert_eq!(get(&platform, token, &location).await, ana);
    assert_eq!(
        common::audit_count(&platform, owner.tenant, "customer.customer.created").await,
        1
    );
    let created_events = support::scalar(
        &platform,
        "SELECT count(*) FROM events.outbox WHERE event_type = 'customer.customer.created'
         AND tenant_id = $1",
        &[&owner.tenant],
    )
    .await;
    assert_eq!(created_events, 1);

    // Validation: 422 naming the field.
    for (body, code, field) in [
        (json!({"name": ""}), "invalid_name", "name"),
        (
            json!({"name": "X", "email": "not-an-email"}),
            "invalid_email",
            "email",
        ),
        (
            json!({"name": "X", "phone": "+33 1"}),
            "invalid_phone",
            "phone",
        ),
        // A national number, and the tenant has no country yet.
        (
            json!({"name": "X", "phone": "06 12 34 56 79"}),
            "invalid_phone",
            "phone",
        ),
        (
            json!({"name": "X", "birthday": "2999-01-01"}),
            "invalid_birthday",
            "birthday",
        ),
        (
            json!({"name": "X", "addresses": ["1 Main St"]}),
            "invalid_addresses",
            "addresses[0]",
        ),
        (
            json!({"name": "X", "allergens": ["no way!"]}),
            "invalid_tags",
            "allergens",
        ),
    ] {
        let response = send(&platform, Method::POST, "/v1/customers", token, Some(&body)).await;
        let problem = problem(response, 422, code).await;
        assert_eq!(problem["field"], field, "{body}");
    }
    // With the tenant's country, national numbers are read in it.
    platform
        .admin()
        .await
        .execute(
            "UPDATE platform.tenants SET settings = '{\"country\": \"FR\"}' WHERE id = $1",
            &[&owner.tenant],
        )
        .await
        .unwrap();
    let bruno = customer(
        &platform,
        token,
        json!({"name": "Bruno", "phone": "06 12 34 56 79"}),
    )
    .await;
    assert_eq!(bruno["phone"], "+33612345679");

    // Email and phone are unique among the tenant's live customers, whatever their spelling.
    let taken = send(
        &platform,
        Method::POST,
        "/v1/customers",
        token,
        Some(&json!({"name": "Ana 2", "email": "ANA.LOPEZ@example.com"})),
    )
    .await;
    assert_eq!(problem(taken, 409, "email_taken").await["field"], "email");
    let taken = send(
        &platform,
        Method::POST,
        "/v1/customers",
        token,
        Some(&json!({"name": "Ana 3", "phone": "0033 612 345 678"})),
    )
    .await;
    assert_eq!(problem(taken, 409, "phone_taken").await["field"], "phone");

    // PATCH needs the current version.
    let changes = json!({"email": null, "notes": "Booth", "marketing_consent": false});
    problem(
        patch(&platform, token, &location, None, &changes).await,
        428,
        "precondition_required",
    )
    .await;
    problem(
        patch(&platform, token, &location, Some("\"7\""), &changes).await,
        412,
        "version_mismatch",
    )
    .await;
    let response = patch(&platform, token, &location, Some("\"1\""), &changes).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let patched = json_of(response, 200).await;
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["notes"], "Booth");
    assert_eq!(patched["marketing_consent"], false);
    assert_ne!(patched["marketing_consent_at"], ana["marketing_consent_at"]);
    assert_eq!(patched["phone"], "+33612345678");
    // Taking another customer's phone is refused; bad fields too.
    let clash = patch(
        &platform,
        token,
        &location,
        Some("2"),
        &json!({"phone": "+33612345679"}),
    )
    .await;
    problem(clash, 409, "phone_taken").await;
    let bad = patch(
        &platform,
        token,
        &location,
        Some("2"),
        &json!({"email": "x@"}),
    )
    .await;
    assert_eq!(problem(bad, 422, "invalid_email").await["field"], "email");
    // The freed email can be used again.
    customer(
        &platform,
        token,
        json!({"name": "Ana Again", "email": "ana.lopez@example.com"}),
    )
    .await;

    // Unknown or malformed ids are 404.
    for path in [
        format!("/v1/customers/{}", Uuid::now_v7()),
        "/v1/customers/nope".to_owned(),
    ] {
        problem(
            send(&platform, Method::GET, &path, token, None).await,
            404,
            "not_found",
        )
        .await;
    }
    platform.stop().await;
}

#[tokio::test]
async fn customers_are_isolated_per_tenant_and_need_permissions() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "cust-iso-a").await;
    let other = sign_up(&platform, "cust-iso-b").await;
    let ana = customer(
        &platform,
        &owner.token,
        json!({"name": "Ana", "email": "ana@example.com"}),
    )
    .await;
    let path = format!("/v1/customers/{}", ana["id"].as_str().unwrap());

    // Another tenant sees nothing, and may use the same email.
    problem(
        send(&platform, Method::GET, &path, &other.token, None).await,
        404,
        "not_found",
    )
    .await;
    let theirs = get(&platform, &other.token, "/v1/customers?q=ana").await;
    assert_eq!(theirs["items"], json!([]));
    problem(
        patch(
            &platform,
            &other.token,
            &path,
            Some("1"),
            &json!({"name": "B"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    customer(
        &platform,
        &other.token,
        json!({"name": "Ana B", "email": "ana@example.com"}),
    )
    .await;

    // customers:read reads but cannot write; neither without it.
    let reader = platform.token(owner.tenant, &["customers:read"]);
    get(&platform, &reader, &path).await;
    problem(
        send(
            &platform,
            Method::POST,
            "/v1/customers",
            &reader,
            Some(&json!({"name": "X"})),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        patch(&platform, &reader, &path, Some("1"), &json!({"name": "B"})).await,
        403,
        "permission_denied",
    )
    .await;
    let nobody = platform.token(owner.tenant, &["orders:read"]);
    for path in [path.as_str(), "/v1/customers"] {
        problem(
            send(&platform, Method::GET, path, &nobody, None).await,
            403,
            "permission_denied",
        )
        .await;
    }
    platform.stop().await;
}

#[tokio::test]
async fn search_finds_customers_by_partial_name_email_and_phone() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "cust-search").await;
    let token = &owner.token;
    let ana = customer(
        &platform,
        token,
        json!({"name": "Ana Lopez", "email": "ana@bistro.example", "phone": "+33612345678"}),
    )
    .await;
    let bruno = customer(
        &platform,
        token,
        json!({"name": "Bruno Martin", "email": "bruno@mail.example", "phone": "+442079460018"}),
    )
    .await;
    let carla = customer(
        &platform,
        token,
        json!({"name": "Carla Lopes", "email": "carla@bistro.example"}),
    )
    .await;
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |q: &str| {
        format!(
            "/v1/customers?q={}",
            q.replace(' ', "%20").replace('+', "%2B")
        )
    };
    // Newest first without a query.
    assert_eq!(
        names(&get(&platform, token, "/v1/customers").await),
        ["Carla Lopes", "Bruno Martin", "Ana Lopez"]
    );
    // Partial name, any case.
    assert_eq!(
        names(&get(&platform, token, &search("lopez")).await),
        ["Ana Lopez"]
    );
    assert_eq!(
        names(&get(&platform, token, &search("BRU")).await),
        ["Bruno Martin"]
    );
    // A typo still finds the name by trigram similarity.
    assert!(
        names(&get(&platform, token, &search("Bruno Martn")).await)
            .contains(&"Bruno Martin".to_owned())
    );
    // Partial email.
    assert_eq!(
        names(&get(&platform, token, &search("@bistro")).await),
        ["Carla Lopes", "Ana Lopez"]
    );
    // Partial phone, as people type it.
    assert_eq!(
        names(&get(&platform, token, &search("612 345")).await),
        ["Ana Lopez"]
    );
    assert_eq!(
        names(&get(&platform, token, &search("+44 20 7946")).await),
        ["Bruno Martin"]
    );
    assert_eq!(
        names(&get(&platform, token, &search("zzzz")).await),
        Vec::<String>::new()
    );
    // `%` is taken literally.
    assert_eq!(
        names(&get(&platform, token, &search("%25")).await),
        Vec::<String>::new()
    );

    // Cursor pages walk every match once.
    let first = get(&platform, token, "/v1/customers?limit=2").await;
    assert_eq!(names(&first), ["Carla Lopes", "Bruno Martin"]);
    assert_eq!(first["next_cursor"], bruno["id"]);
    let second = get(
        &platform,
        token,
        &format!(
            "/v1/customers?limit=2&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(names(&second), ["Ana Lopez"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let _ = (ana, carla);
    problem(
        send(&platform, Method::GET, "/v1/customers?limit=0", token, None).await,
        422,
        "invalid_limit",
    )
    .await;
    let long = "x".repeat(201);
    problem(
        send(&platform, Method::GET, &search(&long), token, None).await,
        422,
        "invalid_search",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_orders_count_once_and_merging_moves_orders_stats_and_points() {
    let Some(host) = emulator_or_skip("customer_merge") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let owner = sign_up(&platform, "cust-merge").await;
    let token = &owner.token;
    json_of(
        support::put_program(&platform, token, &support::program()).await,
        200,
    )
    .await;
    let variant = support::product(&platform, &owner, 1299).await;
    let ana = customer(
        &platform,
        token,
        json!({"name": "Ana Lopez", "email": "ana@example.com", "allergens": ["peanuts"]}),
    )
    .await;
    let dup = customer(
        &platform,
        token,
        json!({"name": "A. Lopez", "phone": "+33612345678", "birthday": "1990-04-01",
               "allergens": ["shellfish"]}),
    )
    .await;
    let (ana_id, dup_id) = (id(&ana), id(&dup));

    // An order naming an unknown customer is refused.
    let refused = platform
        .request(Method::POST, "/v1/orders", token)
        .header("idempotency-key", "unknown-customer")
        .json(
            &json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                      "customer_id": Uuid::now_v7(),
                      "lines": [{"variant_id": variant, "quantity": 1}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(refused, 422, "unknown_customer").await["field"],
        "customer_id"
    );

    // Ana: one order of 2 (25.98 + 1.00 tip); the duplicate: two orders of 1 (12.99 + 1.00).
    let a1 = support::order(&platform, &owner, &variant, 2, Some(ana_id)).await;
    let d1 = support::order(&platform, &owner, &variant, 1, Some(dup_id)).await;
    let d2 = support::order(&platform, &owner, &variant, 1, Some(dup_id)).await;
    let first = support::publish(&platform, owner.tenant, &support::paid(&a1)).await;
    // The same event again (a redelivery) and a second event for the same order (another
    // payment path re-announcing it): counted once.
    support::publish_envelope::<olympus::events::sales::OrderPaid>(&platform, &first).await;
    support::publish(&platform, owner.tenant, &support::paid(&a1)).await;
    support::publish(&platform, owner.tenant, &support::paid(&d1)).await;
    support::publish(&platform, owner.tenant, &support::paid(&d2)).await;
    let ana_path = format!("/v1/customers/{ana_id}");
    let dup_path = format!("/v1/customers/{dup_id}");
    eventually(Duration::from_secs(30), "stats and points", || async {
        let a = get(&platform, token, &ana_path).await;
        let d = get(&platform, token, &dup_path).await;
        let earned = support::scalar(
            &platform,
            "SELECT count(*) FROM customer.loyalty_ledger WHERE tenant_id = $1",
            &[&owner.tenant],
        )
        .await;
        (a["stats"]["order_count"] == 1 && d["stats"]["order_count"] == 2 && earned == 3)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let a = get(&platform, token, &ana_path).await;
    assert_eq!(a["stats"]["order_count"], 1, "counted once");
    assert_eq!(a["stats"]["lifetime_spend_minor"], 2698);
    assert_eq!(a["stats"]["average_order_minor"], 2698);
    assert_eq!(a["stats"]["first_order_at"], a1["ordered_at"]);
    let d = get(&platform, token, &dup_path).await;
    assert_eq!(d["stats"]["lifetime_spend_minor"], 2 * 1399);
    assert_eq!(d["stats"]["average_order_minor"], 1399);
    // Points: 25 for Ana, 12 + 12 for the duplicate.
    assert_eq!(support::balance(&platform, ana_id).await, 25);
    assert_eq!(support::balance(&platform, dup_id).await, 24);

    // Merge the duplicate into Ana.
    let merge_path = format!("/v1/customers/{ana_id}/merge");
    let response = send(
        &platform,
        Method::POST,
        &merge_path,
        token,
        Some(&json!({"duplicate_id": dup_id})),
    )
    .await;
    let merged = json_of(response, 200).await;
    assert_eq!(merged["id"], ana["id"]);
    assert_eq!(
        merged["merged"],
        json!({"orders_moved": 2, "ledger_entries_moved": 2})
    );
    assert_eq!(merged["stats"]["order_count"], 3);
    assert_eq!(merged["stats"]["lifetime_spend_minor"], 2698 + 2 * 1399);
    assert_eq!(
        merged["stats"]["average_order_minor"],
        (2698 + 2 * 1399 + 1) / 3
    );
    assert_eq!(merged["stats"]["first_order_at"], a1["ordered_at"]);
    assert_eq!(merged["stats"]["last_order_at"], d2["ordered_at"]);
    // The survivor keeps its own details and takes what it lacked.
    assert_eq!(merged["email"], "ana@example.com");
    assert_eq!(merged["phone"], "+33612345678");
    assert_eq!(merged["birthday"], "1990-04-01");
    assert_eq!(merged["allergens"], json!(["peanuts", "shellfish"]));
    assert_eq!(merged["version"], 2);
    // Orders and points moved; the balance still equals the ledger.
    let orders = get(
        &platform,
        token,
        &format!("/v1/orders?customer_id={ana_id}"),
    )
    .await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 3);
    let orders = get(
        &platform,
        token,
        &format!("/v1/orders?customer_id={dup_id}"),
    )
    .await;
    assert_eq!(orders["items"], json!([]));
    assert_eq!(support::balance(&platform, ana_id).await, 49);
    assert_eq!(support::balance(&platform, dup_id).await, 0);
    let (_, _, lifetime) = support::points(&platform, ana_id).await;
    assert_eq!(lifetime, 49);
    let loyalty = get(&platform, token, &format!("{ana_path}/loyalty")).await;
    assert_eq!(loyalty["balance"], 49);
    assert_eq!(loyalty["tier"]["name"], "Gold");
    assert_eq!(loyalty["history"]["items"].as_array().unwrap().len(), 3);

    // The duplicate answers 410 with its survivor, is no longer listed or usable.
    let gone = problem(
        send(&platform, Method::GET, &dup_path, token, None).await,
        410,
        "customer_merged",
    )
    .await;
    assert_eq!(gone["merged_into"], ana["id"]);
    problem(
        send(
            &platform,
            Method::GET,
            &format!("{dup_path}/loyalty"),
            token,
            None,
        )
        .await,
        410,
        "customer_merged",
    )
    .await;
    let listed = get(&platform, token, "/v1/customers?q=lopez").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let again = send(
        &platform,
        Method::POST,
        &merge_path,
        token,
        Some(&json!({"duplicate_id": dup_id})),
    )
    .await;
    assert_eq!(
        problem(again, 409, "customer_merged").await["field"],
        "duplicate_id"
    );
    let itself = send(
        &platform,
        Method::POST,
        &merge_path,
        token,
        Some(&json!({"duplicate_id": ana_id})),
    )
    .await;
    problem(itself, 422, "invalid_duplicate").await;
    let unknown = send(
        &platform,
        Method::POST,
        &merge_path,
        token,
        Some(&json!({"duplicate_id": Uuid::now_v7()})),
    )
    .await;
    problem(unknown, 422, "unknown_duplicate").await;
    let refused = platform
        .request(Method::POST, "/v1/orders", token)
        .header("idempotency-key", "merged-customer")
        .json(
            &json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                      "customer_id": dup_id,
                      "lines": [{"variant_id": variant, "quantity": 1}]}),
        )
        .send()
        .await
        .unwrap();
    problem(refused, 422, "unknown_customer").await;
    // An order paid late under the duplicate's id counts for the survivor.
    let late = support::order(&platform, &owner, &variant, 1, Some(ana_id)).await;
    let mut event = support::paid(&late);
    event.customer_id = Some(dup_id);
    support::publish(&platform, owner.tenant, &event).await;
    eventually(Duration::from_secs(30), "the late order", || async {
        let a = get(&platform, token, &ana_path).await;
        (a["stats"]["order_count"] == 4).then_some(())
    })
    .await;
    assert_eq!(
        common::audit_count(&platform, owner.tenant, "customer.customer.merged").await,
        1
    );
    // Another tenant cannot merge these.
    let other = sign_up(&platform, "cust-merge-b").await;
    let theirs = customer(&platform, &other.token, json!({"name": "Theirs"})).await;
    let cross = send(
        &platform,
        Method::POST,
        &format!("/v1/customers/{}/merge", theirs["id"].as_str().unwrap()),
        &other.token,
        Some(&json!({"duplicate_id": ana_id})),
    )
    .await;
    problem(cross, 422, "unknown_duplicate").await;
    platform.stop().await;
}
