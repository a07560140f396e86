//! The BigQuery export against the BigQuery emulator (bqemulator, started by `dev
//! with-services`: rows land and the `_current` views answer a SELECT) and against a strict
//! double of insertAll (`support/bigquery_strict.rs`: BigQuery's rules on unknown fields, types
//! and insert ids, which the emulator does not apply): exactly once across a crash between the
//! write and the watermark, changed orders re-exported with the reader seeing their latest
//! version, a failed write keeping the watermark, tenant isolation, day partitioning and
//! clustering by tenant, Terraform's tables built from the same schema files as the code, and
//! the job skipping when BigQuery is not configured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/bigquery_strict.rs"]
mod bigquery_strict;

use bigquery_strict::StrictBigQuery;
use olympus::analytics::export::{self, BigQuery, InsertRow, TABLES};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::sales::{json_of, post, stocked};
use crate::common::{Owner, TestPlatform, sign_up};

const PROJECT: &str = "olympus-test";

/// The emulator's endpoint from `dev with-services`; None (skip) only when explicitly allowed.
fn emulator_or_skip(test: &str) -> Option<String> {
    match std::env::var("OLYMPUS_TEST_BIGQUERY_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var_os("OLYMPUS_ALLOW_NO_EMULATOR").is_some() => {
            eprintln!("SKIPPED {test}: no BigQuery emulator (OLYMPUS_ALLOW_NO_EMULATOR is set)");
            None
        }
        _ => panic!("{test} needs the BigQuery emulator: run it with `make test`"),
    }
}

/// A fresh dataset of the emulator with every table and view, as Terraform creates them.
async fn emulator_dataset(endpoint: &str) -> BigQuery {
    let target = BigQuery::anonymous(endpoint, PROJECT, &format!("t_{}", Uuid::now_v7().simple()));
    target.provision(&export::specs().unwrap()).await.unwrap();
    target
}

async fn select(target: &BigQuery, sql: &str) -> Vec<serde_json::Map<String, Value>> {
    target.query(sql).await.unwrap()
}

/// `SELECT * FROM <view>` of the tenant, as a reader would.
async fn current(
    target: &BigQuery,
    table: &str,
    tenant: Uuid,
) -> Vec<serde_json::Map<String, Value>> {
    select(
        target,
        &format!(
            "SELECT * FROM {} WHERE tenant_id = '{tenant}'",
            target.qualified(&format!("{table}_current"))
        ),
    )
    .await
}

async fn raw_count(target: &BigQuery, table: &str, tenant: Uuid) -> i64 {
    let rows = select(
        target,
        &format!(
            "SELECT COUNT(*) AS n FROM {} WHERE tenant_id = '{tenant}'",
            target.qualified(table)
        ),
    )
    .await;
    rows[0]["n"].as_str().unwrap().parse().unwrap()
}

struct Shop {
    owner: Owner,
    variant: String,
    order: String,
}

/// A tenant with a stocked loaf (600 each, no tax: one `receive` of 10) and an open order of
/// two loaves, edited to three (a new version, its line replaced).
async fn shop(platform: &TestPlatform, slug: &str) -> Shop {
    let owner = sign_up(platform, slug).await;
    let variant = stocked(platform, &owner, 10).await;
    let order = json_of(
        post(
            platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
                    "lines": [{"variant_id": variant, "quantity": 2}]}),
        )
        .await,
        201,
    )
    .await;
    Shop {
        owner,
        variant,
        order: order["id"].as_str().unwrap().to_owned(),
    }
}

async fn edit_to_three(platform: &TestPlatform, shop: &Shop) {
    let response = platform
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/orders/{}", shop.order),
            &shop.owner.token,
        )
        .header("if-match", "1")
        .json(&json!({"lines": [{"variant_id": shop.variant, "quantity": 3}]}))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await;
}

/// Places the order (sells 3), pays 1800 in cash from 2000, refunds 500 of it, rolls up.
async fn sell(platform: &TestPlatform, shop: &Shop) {
    let token = &shop.owner.token;
    json_of(
        post(
            platform,
            token,
            &format!("/v1/orders/{}/place", shop.order),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let payment = json_of(
        platform
            .request(
                reqwest::Method::POST,
                &format!("/v1/orders/{}/payments", shop.order),
                token,
            )
            .header("idempotency-key", format!("pay-{}", shop.order))
            .json(&json!({"tender": "cash", "tendered_minor": 2000}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(payment["amount_minor"], 1800);
    json_of(
        platform
            .request(
                reqwest::Method::POST,
                &format!("/v1/payments/{}/refunds", payment["id"].as_str().unwrap()),
                token,
            )
            .header("idempotency-key", format!("refund-{}", shop.order))
            .json(&json!({"amount_minor": 500, "reason": "cold"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    olympus::analytics::rollup::incremental(&platform.db.app_pool(), shop.owner.tenant)
        .await
        .unwrap();
}

async fn order_version(platform: &TestPlatform, order: &str) -> i64 {
    i64::from(
        platform
            .admin()
            .await
            .query_one(
                "SELECT version FROM sales.orders WHERE id = $1::text::uuid",
                &[&order],
            )
            .await
            .unwrap()
            .get::<_, i32>(0),
    )
}

async fn watermarks(platform: &TestPlatform, tenant: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM analytics.export_state WHERE tenant_id = $1 AND watermark IS NOT NULL",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0)
}

/// Makes every watermark update fail after the rows were written (a NOT VALID check still
/// applies to new rows): the process "dies" between the write and the watermark.
async fn break_watermarks(platform: &TestPlatform, broken: bool) {
    let sql = if broken {
        "ALTER TABLE analytics.export_state ADD CONSTRAINT crash CHECK (watermark IS NULL) NOT VALID"
    } else {
        "ALTER TABLE analytics.export_state DROP CONSTRAINT crash"
    };
    platform.admin().await.batch_execute(sql).await.unwrap();
}

fn text(row: &serde_json::Map<String, Value>, column: &str) -> String {
    row[column].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_export_lands_in_the_emulator_and_each_view_shows_the_hand_computed_rows() {
    let Some(endpoint) = emulator_or_skip("export_lands") else {
        return;
    };
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "export-lands").await;
    edit_to_three(&platform, &shop).await;
    sell(&platform, &shop).await;
    let target = emulator_dataset(&endpoint).await;
    let tenant = shop.owner.tenant;
    let outcome = export::export_tenant(&platform.db.app_pool(), &target, tenant)
        .await
        .unwrap();
    assert_eq!(outcome.rows["orders"], 1);
    assert_eq!(outcome.rows["inventory_movements"], 2);

    let orders = current(&target, "orders", tenant).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(text(&orders[0], "order_id"), shop.order);
    assert_eq!(text(&orders[0], "status"), "placed");
    assert_eq!(text(&orders[0], "total_minor"), "1800");
    assert_eq!(text(&orders[0], "paid_minor"), "1800");
    assert_eq!(text(&orders[0], "refunded_minor"), "500");
    assert_eq!(
        text(&orders[0], "order_version"),
        order_version(&platform, &shop.order).await.to_string()
    );
    let lines = current(&target, "order_lines", tenant).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(text(&lines[0], "quantity"), "3");
    assert_eq!(text(&lines[0], "gross_minor"), "1800");
    let payments = current(&target, "payments", tenant).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(
        (
            text(&payments[0], "tender"),
            text(&payments[0], "amount_minor"),
            text(&payments[0], "change_minor"),
            text(&payments[0], "refunded_minor")
        ),
        ("cash".into(), "1800".into(), "200".into(), "500".into())
    );
    let refunds = current(&target, "refunds", tenant).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(text(&refunds[0], "amount_minor"), "500");
    let mut movements: Vec<(String, String)> = current(&target, "inventory_movements", tenant)
        .await
        .iter()
        .map(|m| (text(m, "kind"), text(m, "delta")))
        .collect();
    movements.sort();
    assert_eq!(
        movements,
        [
            ("receive".into(), "10".into()),
            ("sale".into(), "-3".into())
        ]
    );
    let daily = current(&target, "sales_daily", tenant).await;
    assert_eq!(daily.len(), 1);
    assert_eq!(
        (
            text(&daily[0], "order_count"),
            text(&daily[0], "net_sales_minor"),
            text(&daily[0], "refunds_minor"),
            text(&daily[0], "items_sold")
        ),
        ("1".into(), "1800".into(), "500".into(), "3".into())
    );
    let products = current(&target, "product_sales_daily", tenant).await;
    assert_eq!(products.len(), 1);
    assert_eq!(text(&products[0], "quantity"), "3");
    assert_eq!(watermarks(&platform, tenant).await, 7);
    platform.stop().await;
}

#[tokio::test]
async fn a_crash_between_the_write_and_the_watermark_shows_no_duplicate() {
    let Some(endpoint) = emulator_or_skip("export_crash") else {
        return;
    };
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "export-crash").await;
    edit_to_three(&platform, &shop).await;
    sell(&platform, &shop).await;
    let tenant = shop.owner.tenant;
    let pool = platform.db.app_pool();
    let emulator = emulator_dataset(&endpoint).await;
    let strict = StrictBigQuery::start().await;
    let strict_target = BigQuery::anonymous(&strict.endpoint, PROJECT, "olympus");

    break_watermarks(&platform, true).await;
    for target in [&emulator, &strict_target] {
        // The watermark update, after the write, is what fails (a check violation).
        export::export_tenant(&pool, target, tenant)
            .await
            .unwrap_err();
    }
    // The orders were written, the watermark did not move.
    assert_eq!(raw_count(&emulator, "orders", tenant).await, 1);
    assert_eq!(strict.rows("orders").len(), 1);
    assert_eq!(watermarks(&platform, tenant).await, 0);

    break_watermarks(&platform, false).await;
    for target in [&emulator, &strict_target] {
        export::export_tenant(&pool, target, tenant).await.unwrap();
    }
    assert_eq!(watermarks(&platform, tenant).await, 7);
    // BigQuery drops the re-sent insert ids: every raw table holds each row once.
    assert_eq!(strict.rows("orders").len(), 1);
    assert_eq!(strict.rows("order_lines").len(), 1);
    assert_eq!(strict.rows("inventory_movements").len(), 2);
    // The emulator keeps both copies (it does not dedupe), and the reader's view still shows
    // one: exactly once does not rest on the best-effort dedupe.
    assert_eq!(raw_count(&emulator, "orders", tenant).await, 2);
    assert_eq!(current(&emulator, "orders", tenant).await.len(), 1);
    assert_eq!(current(&emulator, "order_lines", tenant).await.len(), 1);
    assert_eq!(current(&emulator, "payments", tenant).await.len(), 1);
    assert_eq!(
        current(&emulator, "inventory_movements", tenant)
            .await
            .len(),
        2
    );
    assert_eq!(current(&emulator, "sales_daily", tenant).await.len(), 1);
    platform.stop().await;
}

#[tokio::test]
async fn a_changed_order_is_exported_again_and_readers_see_its_latest_version() {
    let Some(endpoint) = emulator_or_skip("export_changed") else {
        return;
    };
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "export-changed").await;
    let tenant = shop.owner.tenant;
    let pool = platform.db.app_pool();
    let emulator = emulator_dataset(&endpoint).await;
    let strict = StrictBigQuery::start().await;
    let strict_target = BigQuery::anonymous(&strict.endpoint, PROJECT, "olympus");
    for target in [&emulator, &strict_target] {
        export::export_tenant(&pool, target, tenant).await.unwrap();
    }
    let first = current(&emulator, "order_lines", tenant).await;
    assert_eq!(first.len(), 1);
    assert_eq!(text(&first[0], "quantity"), "2");
    let first_line = text(&first[0], "line_id");

    edit_to_three(&platform, &shop).await;
    for target in [&emulator, &strict_target] {
        export::export_tenant(&pool, target, tenant).await.unwrap();
    }
    // Both versions are in the log; the view shows the order once, at version 2, with the
    // lines of version 2 only.
    let versions: Vec<i64> = strict
        .rows("orders")
        .iter()
        .map(|row| row["order_version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let orders = current(&emulator, "orders", tenant).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(text(&orders[0], "order_version"), "2");
    assert_eq!(text(&orders[0], "subtotal_minor"), "1800");
    let lines = current(&emulator, "order_lines", tenant).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(text(&lines[0], "quantity"), "3");
    assert_eq!(text(&lines[0], "order_version"), "2");
    if text(&lines[0], "line_id") != first_line {
        // The edit replaced the line: the old one is still in the log but not in the view.
        assert!(raw_count(&emulator, "order_lines", tenant).await >= 2);
    }
    platform.stop().await;
}

#[tokio::test]
async fn a_failed_write_keeps_the_watermark_and_the_next_run_catches_up() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "export-outage").await;
    let tenant = shop.owner.tenant;
    let pool = platform.db.app_pool();
    let strict = StrictBigQuery::start().await;
    let target = BigQuery::anonymous(&strict.endpoint, PROJECT, "olympus");
    strict.fail_next(1);
    let error = export::export_tenant(&pool, &target, tenant)
        .await
        .unwrap_err();
    assert!(
        error.cause_chain().contains("503"),
        "{}",
        error.cause_chain()
    );
    assert_eq!(watermarks(&platform, tenant).await, 0);
    assert!(strict.rows("orders").is_empty());
    export::export_tenant(&pool, &target, tenant).await.unwrap();
    assert_eq!(strict.rows("orders").len(), 1);
    assert_eq!(watermarks(&platform, tenant).await, 7);
    platform.stop().await;
}

#[tokio::test]
async fn the_strict_double_refuses_what_bigquery_refuses() {
    let strict = StrictBigQuery::start().await;
    let target = BigQuery::anonymous(&strict.endpoint, PROJECT, "olympus");
    let movement = |id: &str, extra: Value| {
        let mut row = json!({"tenant_id": "t", "movement_id": id, "variant_id": "v",
            "location_id": "l", "kind": "receive", "quantity": 5, "delta": 5,
            "on_hand_after": 5, "occurred_at": "2026-11-01T10:00:00+00:00",
            "recorded_at": "2026-11-01T10:00:01.5+00:00"});
        for (key, value) in extra.as_object().unwrap() {
            row[key] = value.clone();
        }
        InsertRow {
            insert_id: id.to_owned(),
            json: row,
        }
    };
    for (bad, why) in [
        (json!({"bogus": 1}), "no such field"),
        (json!({"quantity": "five"}), "Cannot convert"),
        (json!({"kind": 7}), "Cannot convert"),
        (json!({"occurred_at": "yesterday"}), "Cannot convert"),
        (json!({"tenant_id": null}), "Missing required"),
    ] {
        let error = target
            .insert_all(
                "inventory_movements",
                &[movement("ok", json!({})), movement("bad", bad)],
            )
            .await
            .unwrap_err();
        assert!(error.cause_chain().contains(why), "{}", error.cause_chain());
    }
    // One bad row stopped the good one too.
    assert!(strict.rows("inventory_movements").is_empty());
    let error = target
        .insert_all("no_such_table", &[movement("a", json!({}))])
        .await
        .unwrap_err();
    assert!(
        error.cause_chain().contains("404"),
        "{}",
        error.cause_chain()
    );
    // The same insert id twice is stored once.
    for _ in 0..2 {
        target
            .insert_all(
                "inventory_movements",
                &[movement("a", json!({"quantity": "5"}))],
            )
            .await
            .unwrap();
    }
    assert_eq!(strict.rows("inventory_movements").len(), 1);
}

#[tokio::test]
async fn each_tenant_is_exported_from_its_own_rows_only() {
    let platform = TestPlatform::start(None).await;
    let a = shop(&platform, "export-tenant-a").await;
    let b = shop(&platform, "export-tenant-b").await;
    let pool = platform.db.app_pool();
    let strict = StrictBigQuery::start().await;
    let target = BigQuery::anonymous(&strict.endpoint, PROJECT, "olympus");
    export::export_tenant(&pool, &target, a.owner.tenant)
        .await
        .unwrap();
    let tenants = |table: &str| -> Vec<String> {
        strict
            .rows(table)
            .iter()
            .map(|row| row["tenant_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(tenants("orders"), [a.owner.tenant.to_string()]);
    assert_eq!(strict.rows("orders")[0]["order_id"], a.order.as_str());
    assert_eq!(tenants("inventory_movements"), [a.owner.tenant.to_string()]);
    export::export_tenant(&pool, &target, b.owner.tenant)
        .await
        .unwrap();
    let mut orders: Vec<(String, String)> = strict
        .rows("orders")
        .iter()
        .map(|row| {
            (
                row["tenant_id"].as_str().unwrap().to_owned(),
                row["order_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    orders.sort();
    let mut expected = vec![
        (a.owner.tenant.to_string(), a.order.clone()),
        (b.owner.tenant.to_string(), b.order.clone()),
    ];
    expected.sort();
    assert_eq!(orders, expected);
    // Each tenant's watermarks are its own rows (RLS): seven each.
    assert_eq!(watermarks(&platform, a.owner.tenant).await, 7);
    assert_eq!(watermarks(&platform, b.owner.tenant).await, 7);
    platform.stop().await;
}

#[tokio::test]
async fn tables_are_partitioned_by_day_and_clustered_by_tenant() {
    let Some(endpoint) = emulator_or_skip("export_partitioning") else {
        return;
    };
    let target = emulator_dataset(&endpoint).await;
    let http = reqwest::Client::new();
    for spec in export::specs().unwrap() {
        let table: Value = http
            .get(format!(
                "{endpoint}/bigquery/v2/projects/{PROJECT}/datasets/{}/tables/{}",
                target.dataset(),
                spec.name
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(table["timePartitioning"]["type"], "DAY", "{}", spec.name);
        assert_eq!(
            table["timePartitioning"]["field"],
            spec.partition_field.as_str()
        );
        assert_eq!(
            table["clustering"]["fields"],
            json!(["tenant_id"]),
            "{}",
            spec.name
        );
        assert_eq!(
            table["schema"]["fields"].as_array().unwrap().len(),
            spec.fields.len(),
            "{}",
            spec.name
        );
    }
}

#[tokio::test]
async fn without_bigquery_the_job_skips_and_says_so() {
    let platform = TestPlatform::start(None).await;
    let response = platform
        .http
        .post(platform.url("/jobs/export-bigquery"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response, 200).await,
        json!({"skipped": "bigquery not configured"})
    );
    platform.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Terraform builds the tables from the same files as the code.

mod terraform {
    use super::*;
    use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
    use hcl::{Body, Expression};

    fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn file_arg(args: &FuncArgs, index: usize) -> Result<String, String> {
        args[index]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "not a string".to_owned())
    }

    /// Terraform's fileset, file, jsondecode, jsonencode, trimsuffix and join, enough for
    /// bigquery.tf.
    fn context() -> Context<'static> {
        let mut ctx = Context::new();
        ctx.declare_func(
            "fileset",
            FuncDef::builder()
                .param(ParamType::String)
                .param(ParamType::String)
                .build(|args| {
                    let dir = std::path::PathBuf::from(file_arg(&args, 0)?);
                    let pattern = file_arg(&args, 1)?;
                    let suffix = pattern
                        .strip_prefix('*')
                        .ok_or("only *.ext patterns")?
                        .to_owned();
                    let mut names: Vec<String> = std::fs::read_dir(&dir)
                        .map_err(|e| e.to_string())?
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| n.ends_with(&suffix))
                        .collect();
                    names.sort();
                    Ok(hcl::Value::Array(
                        names.into_iter().map(hcl::Value::from).collect(),
                    ))
                }),
        );
        ctx.declare_func(
            "file",
            FuncDef::builder().param(ParamType::String).build(|args| {
                std::fs::read_to_string(file_arg(&args, 0)?)
                    .map(hcl::Value::from)
                    .map_err(|e| e.to_string())
            }),
        );
        ctx.declare_func(
            "jsondecode",
            FuncDef::builder().param(ParamType::String).build(|args| {
                let json: Value =
                    serde_json::from_str(&file_arg(&args, 0)?).map_err(|e| e.to_string())?;
                hcl::to_value(json).map_err(|e| e.to_string())
            }),
        );
        ctx.declare_func(
            "jsonencode",
            FuncDef::builder().param(ParamType::Any).build(|args| {
                serde_json::to_string(&args[0])
                    .map(hcl::Value::from)
                    .map_err(|e| e.to_string())
            }),
        );
        ctx.declare_func(
            "trimsuffix",
            FuncDef::builder()
                .param(ParamType::String)
                .param(ParamType::String)
                .build(|args| {
                    let (s, suffix) = (file_arg(&args, 0)?, file_arg(&args, 1)?);
                    Ok(hcl::Value::from(
                        s.strip_suffix(&suffix).unwrap_or(&s).to_owned(),
                    ))
                }),
        );
        ctx.declare_func(
            "join",
            FuncDef::builder()
                .param(ParamType::String)
                .param(ParamType::Any)
                .build(|args| {
                    let parts: Vec<String> = args[1]
                        .as_array()
                        .ok_or("not a list")?
                        .iter()
                        .map(|v| v.as_str().unwrap_or_default().to_owned())
                        .collect();
                    Ok(hcl::Value::from(parts.join(&file_arg(&args, 0)?)))
                }),
        );
        ctx.declare_var(
            "path",
            hcl::value::Map::from_iter([(
                "module".to_owned(),
                hcl::Value::from(root().join("terraform").display().to_string()),
            )]),
        );
        ctx
    }

    fn body() -> Body {
        hcl::from_str(&std::fs::read_to_string(root().join("terraform/bigquery.tf")).unwrap())
            .unwrap()
    }

    fn attribute(body: &Body, name: &str) -> Expression {
        body.attributes()
            .find(|a| a.key() == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .expr()
            .clone()
    }

    fn block<'a>(body: &'a Body, kind: &str, labels: &[&str]) -> &'a Body {
        body.blocks()
            .find(|b| {
                b.identifier() == kind
                    && b.labels()
                        .iter()
                        .map(hcl::BlockLabel::as_str)
                        .eq(labels.iter().copied())
            })
            .unwrap_or_else(|| panic!("no {kind} {labels:?}"))
            .body()
    }

    #[test]
    fn terraform_creates_the_tables_from_the_schema_files_the_code_embeds() {
        let body = body();
        let mut ctx = context();
        // locals: evaluated in order (the second uses the first).
        let locals = block(&body, "locals", &[]);
        let dir = attribute(locals, "bigquery_schema_dir")
            .evaluate(&ctx)
            .unwrap();
        ctx.declare_var(
            "local",
            hcl::value::Map::from_iter([("bigquery_schema_dir".to_owned(), dir.clone())]),
        );
        let tables = attribute(locals, "bigquery_tables").evaluate(&ctx).unwrap();
        let tables = tables.as_object().unwrap();

        // The same tables as the code, each parsed from the very bytes the code embeds.
        let names: Vec<&str> = tables.keys().map(String::as_str).collect();
        let mut code: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        code.sort_unstable();
        assert_eq!(names, code);
        for table in TABLES {
            let on_disk = std::fs::read_to_string(
                root().join(format!("shared/bigquery/{}.json", table.name)),
            )
            .unwrap();
            assert_eq!(
                on_disk, table.schema,
                "{} embedded is not the file",
                table.name
            );
            let spec = table.spec().unwrap();
            let terraform: Value = serde_json::to_value(&tables[table.name]).unwrap();
            assert_eq!(
                terraform["fields"],
                serde_json::to_value(&spec.fields).unwrap(),
                "{}",
                table.name
            );
        }

        // Each table: for_each over them, the schema their fields, day partitions on the
        // partition field, clustered by tenant; each view the code's view SQL.
        let export = block(&body, "resource", &["google_bigquery_table", "export"]);
        let current = block(&body, "resource", &["google_bigquery_table", "current"]);
        ctx.declare_var(
            "local",
            hcl::value::Map::from_iter([
                ("bigquery_schema_dir".to_owned(), dir),
                (
                    "bigquery_tables".to_owned(),
                    hcl::Value::Object(tables.clone()),
                ),
            ]),
        );
        assert_eq!(
            attribute(export, "for_each").evaluate(&ctx).unwrap(),
            hcl::Value::Object(tables.clone())
        );
        assert_eq!(
            attribute(current, "for_each").evaluate(&ctx).unwrap(),
            hcl::Value::Object(tables.clone())
        );
        ctx.declare_var(
            "var",
            hcl::value::Map::from_iter([("project_id".to_owned(), hcl::Value::from("p"))]),
        );
        ctx.declare_var(
            "google_bigquery_dataset",
            hcl::value::Map::from_iter([(
                "analytics".to_owned(),
                hcl::Value::Object(hcl::value::Map::from_iter([(
                    "dataset_id".to_owned(),
                    hcl::Value::from("d"),
                )])),
            )]),
        );
        for table in TABLES {
            let spec = table.spec().unwrap();
            let mut each = ctx.clone();
            each.declare_var(
                "each",
                hcl::value::Map::from_iter([
                    ("key".to_owned(), hcl::Value::from(table.name)),
                    ("value".to_owned(), tables[table.name].clone()),
                ]),
            );
            let schema = attribute(export, "schema").evaluate(&each).unwrap();
            let schema: Value = serde_json::from_str(schema.as_str().unwrap()).unwrap();
            assert_eq!(schema, serde_json::to_value(&spec.fields).unwrap());
            assert_eq!(
                attribute(export, "clustering").evaluate(&each).unwrap(),
                hcl::Value::from(vec![hcl::Value::from("tenant_id")])
            );
            let partitioning = block(export, "time_partitioning", &[]);
            assert_eq!(
                attribute(partitioning, "type").evaluate(&each).unwrap(),
                hcl::Value::from("DAY")
            );
            assert_eq!(
                attribute(partitioning, "field").evaluate(&each).unwrap(),
                hcl::Value::from(spec.partition_field.clone())
            );
            let view = block(current, "view", &[]);
            assert_eq!(
                attribute(view, "query").evaluate(&each).unwrap(),
                hcl::Value::from(spec.view_sql("p", "d")),
                "{}",
                table.name
            );
            assert_eq!(
                attribute(current, "table_id").evaluate(&each).unwrap(),
                hcl::Value::from(spec.view_name())
            );
        }
    }
}
