//! The BigQuery export (issue 6): new and changed facts — orders, order lines, payments,
//! refunds, inventory movements and the daily rollups — appended hourly to a BigQuery dataset
//! whose tables are partitioned by day and clustered by `tenant_id`.
//!
//! # One schema, two readers
//!
//! Each table is one file `shared/bigquery/<table>.json`: its BigQuery `fields`, the
//! `partition_field`, and the three names the reader's view needs (`group`, `key`, `version`).
//! The code embeds the files ([`TABLES`]); `terraform/bigquery.tf` reads the same files with
//! `jsondecode(file(...))` to create the tables and views, and a test checks the two agree.
//!
//! # Exactly once for the reader
//!
//! BigQuery's `insertId` dedupe is best effort (about a minute), so it cannot be what makes a
//! re-run after a crash invisible. The design that really gives no duplicates: every table is
//! an append-only log of versions, and readers read its `<table>_current` view
//! ([`TableSpec::view_sql`]), which keeps, per `group`, only the rows of the highest `version`,
//! and of those one row per `key`:
//!
//! - orders: one row per (order, `order_version`); `sales.orders.version` is bumped under the
//!   order's row lock by every change to the order, its lines, payments and refunds, so it is a
//!   true version. The view shows each order's latest version once.
//! - order lines, payments, refunds: written as a snapshot of their order at the order's
//!   version (read in the same statement as the order row, so consistent); the view keeps the
//!   lines of the latest snapshot, so a line an edit removed disappears too.
//! - inventory movements are immutable: one row per movement (version `recorded_at`).
//! - rollups: each run rewrites a whole location-day; the view keeps the rows of the latest
//!   `rolled_up_at` of each day, so a variant that no longer sold that day drops out.
//!
//! A row written twice (a re-run, a concurrent run, BigQuery's dedupe missing) is the same
//! version with the same insert id: BigQuery usually drops it, and the view shows it once in
//! any case. Insert ids are stable: the row's key and version, never a run number.
//!
//! The watermark ([`analytics.export_state`], per tenant and table) moves only after every
//! row up to it was accepted, and is taken like the rollup's ([`super::rollup`]): behind the
//! oldest open transaction, so a slow commit is never skipped. A crash between a write and the
//! watermark update means the next run writes those rows again, which the above makes
//! harmless. Each tenant is read inside its own tenant transaction, so RLS stays in force.
//!
//! Known limit: a rollup day that loses all its sales (its only order cancelled) has no rows
//! left to export, so the view keeps its last figures.

mod client;

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use client::{BigQuery, GOOGLE_ENDPOINT, InsertRow};

use crate::config::Env;
use crate::db::{self, Pool};
use crate::error::Error;

/// Every exported table is clustered by this column (tenant isolation at the storage level:
/// a tenant's query reads its own blocks).
pub const CLUSTERING: &str = "tenant_id";

/// Rows per `insertAll` request: BigQuery's recommended maximum.
pub const BATCH_ROWS: i64 = 500;

/// One BigQuery field as the REST API and Terraform's `schema` take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One table's schema file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// The DATE or TIMESTAMP column the table is partitioned by (by day).
    pub partition_field: String,
    /// The rows one version replaces as a whole (an order and its lines).
    pub group: Vec<String>,
    /// What identifies one row within a version.
    pub key: Vec<String>,
    /// The column whose highest value within a `group` is the current version.
    pub version: String,
    pub fields: Vec<Field>,
}

impl TableSpec {
    /// The reader's view of the table.
    pub fn view_name(&self) -> String {
        format!("{}_current", self.name)
    }

    /// The view's query: the rows of each group's highest version, one per key. The
    /// `WHERE TRUE` is there because BigQuery wants a WHERE, GROUP BY or HAVING beside QUALIFY.
    /// Terraform builds the same text from the same file (checked by a test).
    pub fn view_sql(&self, project: &str, dataset: &str) -> String {
        let (version, group, key) = (&self.version, self.group.join(", "), self.key.join(", "));
        format!(
            "SELECT * FROM `{project}.{dataset}.{name}` WHERE TRUE QUALIFY {version} = \
             MAX({version}) OVER (PARTITION BY {group}) AND ROW_NUMBER() OVER (PARTITION BY \
             {key} ORDER BY {version} DESC) = 1",
            name = self.name,
        )
    }
}

/// A table: its schema file and the query that reads its changed rows.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// `shared/bigquery/<name>.json`.
    pub schema: &'static str,
    /// Rows after the cursor `($1 timestamptz or NULL, $2 text)`, at most `$3`, in cursor
    /// order: `(cursor_at timestamptz, cursor_id text, insert_id text, row jsonb)`. Run in
    /// the tenant's transaction (RLS).
    source: &'static str,
}

impl Table {
    pub fn spec(&self) -> Result<TableSpec, Error> {
        let mut spec: TableSpec = serde_json::from_str(self.schema).map_err(|e| {
            Error::internal(std::io::Error::other(format!(
                "shared/bigquery/{}.json: {e}",
                self.name
            )))
        })?;
        spec.name = self.name.to_owned();
        Ok(spec)
    }
}

/// Every table's spec.
pub fn specs() -> Result<Vec<TableSpec>, Error> {
    TABLES.iter().map(Table::spec).collect()
}

pub const TABLES: &[Table] = &[
    Table {
        name: "orders",
        schema: include_str!("../../../bigquery/orders.json"),
        source: ORDERS,
    },
    Table {
        name: "order_lines",
        schema: include_str!("../../../bigquery/order_lines.json"),
        source: "SELECT o.updated_at, li.id::text, li.id::text || ':' || o.version,
                    jsonb_build_object(
                        'tenant_id', o.tenant_id, 'line_id', li.id, 'order_id', o.id,
                        'order_version', o.version, 'location_id', o.location_id,
                        'business_date', o.business_date, 'position', li.position,
                        'variant_id', li.variant_id, 'product_id', li.product_id,
                        'product_name', li.product_name, 'variant_name', li.variant_name,
                        'sku', li.sku, 'category_id', li.category_id, 'quantity', li.quantity,
                        'currency', o.currency, 'unit_price_minor', li.unit_price_minor,
                        'gross_minor', li.gross_minor, 'discount_minor', li.discount_minor,
                        'net_minor', li.net_minor, 'tax_minor', li.tax_minor,
                        'total_minor', li.total_minor, 'cost_minor', li.cost_minor,
                        'modifiers', li.modifiers::text)
                 FROM sales.orders o JOIN sales.order_lines li ON li.order_id = o.id
                 WHERE (o.updated_at, li.id::text) > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
    Table {
        name: "payments",
        schema: include_str!("../../../bigquery/payments.json"),
        source: "SELECT o.updated_at, p.id::text, p.id::text || ':' || o.version,
                    jsonb_build_object(
                        'tenant_id', o.tenant_id, 'payment_id', p.id, 'order_id', o.id,
                        'order_version', o.version, 'location_id', p.location_id,
                        'tender', p.tender, 'currency', p.currency,
                        'amount_minor', p.amount_minor, 'tendered_minor', p.tendered_minor,
                        'change_minor', p.change_minor, 'refunded_minor', p.refunded_minor,
                        'card_brand', p.card_brand, 'line_ids', to_jsonb(p.line_ids),
                        'created_at', p.created_at)
                 FROM sales.orders o JOIN sales.payments p ON p.order_id = o.id
                 WHERE (o.updated_at, p.id::text) > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
    Table {
        name: "refunds",
        schema: include_str!("../../../bigquery/refunds.json"),
        source: "SELECT o.updated_at, r.id::text, r.id::text || ':' || o.version,
                    jsonb_build_object(
                        'tenant_id', o.tenant_id, 'refund_id', r.id, 'payment_id', r.payment_id,
                        'order_id', o.id, 'order_version', o.version,
                        'location_id', o.location_id, 'currency', o.currency,
                        'amount_minor', r.amount_minor, 'reason', r.reason,
                        'created_at', r.created_at)
                 FROM sales.orders o JOIN sales.refunds r ON r.order_id = o.id
                 WHERE (o.updated_at, r.id::text) > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
    Table {
        name: "inventory_movements",
        schema: include_str!("../../../bigquery/inventory_movements.json"),
        source: "SELECT m.recorded_at, m.id::text, m.id::text,
                    jsonb_build_object(
                        'tenant_id', m.tenant_id, 'movement_id', m.id,
                        'variant_id', m.variant_id, 'location_id', m.location_id,
                        'kind', m.kind, 'quantity', m.quantity, 'delta', m.delta,
                        'on_hand_after', m.on_hand_after, 'reason', m.reason,
                        'reference_type', m.reference_type, 'reference_id', m.reference_id,
                        'occurred_at', m.occurred_at, 'recorded_at', m.recorded_at)
                 FROM inventory.movements m
                 WHERE (m.recorded_at, m.id::text) > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
    Table {
        name: "sales_daily",
        schema: include_str!("../../../bigquery/sales_daily.json"),
        source: "SELECT d.rolled_up_at, d.location_id::text || ':' || d.business_date,
                    d.location_id::text || ':' || d.business_date || ':'
                        || (extract(epoch FROM d.rolled_up_at) * 1000000)::bigint,
                    jsonb_build_object(
                        'tenant_id', d.tenant_id, 'location_id', d.location_id,
                        'business_date', d.business_date, 'currency', d.currency,
                        'order_count', d.order_count, 'gross_sales_minor', d.gross_sales_minor,
                        'discounts_minor', d.discounts_minor, 'net_sales_minor', d.net_sales_minor,
                        'tax_minor', d.tax_minor, 'tax_included_minor', d.tax_included_minor,
                        'service_charges_minor', d.service_charges_minor,
                        'tips_minor', d.tips_minor, 'total_minor', d.total_minor,
                        'refunds_minor', d.refunds_minor, 'refund_count', d.refund_count,
                        'items_sold', d.items_sold, 'covers', d.covers,
                        'cost_of_goods_minor', d.cost_of_goods_minor,
                        'costed_items', d.costed_items,
                        'average_order_minor', d.average_order_minor,
                        'rolled_up_at', d.rolled_up_at)
                 FROM analytics.sales_daily d
                 WHERE (d.rolled_up_at, d.location_id::text || ':' || d.business_date)
                       > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
    Table {
        name: "product_sales_daily",
        schema: include_str!("../../../bigquery/product_sales_daily.json"),
        source: "SELECT d.rolled_up_at,
                    d.location_id::text || ':' || d.business_date || ':' || d.variant_id,
                    d.location_id::text || ':' || d.business_date || ':' || d.variant_id || ':'
                        || (extract(epoch FROM d.rolled_up_at) * 1000000)::bigint,
                    jsonb_build_object(
                        'tenant_id', d.tenant_id, 'location_id', d.location_id,
                        'business_date', d.business_date, 'variant_id', d.variant_id,
                        'product_id', d.product_id, 'product_name', d.product_name,
                        'variant_name', d.variant_name, 'currency', d.currency,
                        'order_count', d.order_count, 'quantity', d.quantity,
                        'gross_sales_minor', d.gross_sales_minor,
                        'discounts_minor', d.discounts_minor,
                        'net_sales_minor', d.net_sales_minor,
                        'cost_of_goods_minor', d.cost_of_goods_minor,
                        'costed_quantity', d.costed_quantity, 'rolled_up_at', d.rolled_up_at)
                 FROM analytics.product_sales_daily d
                 WHERE (d.rolled_up_at,
                        d.location_id::text || ':' || d.business_date || ':' || d.variant_id)
                       > (coalesce($1::timestamptz, '-infinity'), $2::text)
                 ORDER BY 1, 2 LIMIT $3",
    },
];

/// Orders changed after the cursor, by `updated_at` (V10's `orders_changed` index).
const ORDERS: &str = "SELECT o.updated_at, o.id::text, o.id::text || ':' || o.version,
        jsonb_build_object(
            'tenant_id', o.tenant_id, 'order_id', o.id, 'order_version', o.version,
            'location_id', o.location_id, 'number', o.number,
            'business_date', o.business_date, 'status', o.status, 'channel', o.channel,
            'source', o.source, 'customer_id', o.customer_id, 'party_size', o.party_size,
            'currency', o.currency, 'subtotal_minor', o.subtotal_minor,
            'discount_minor', o.discount_minor, 'tax_minor', o.tax_minor,
            'tax_included_minor', o.tax_included_minor,
            'service_charge_minor', o.service_charge_minor, 'tip_minor', o.tip_minor,
            'total_minor', o.total_minor, 'paid_minor', o.paid_minor,
            'refunded_minor', o.refunded_minor, 'ordered_at', o.ordered_at,
            'placed_at', o.placed_at, 'completed_at', o.completed_at,
            'cancelled_at', o.cancelled_at, 'created_at', o.created_at,
            'updated_at', o.updated_at)
     FROM sales.orders o
     WHERE (o.updated_at, o.id::text) > (coalesce($1::timestamptz, '-infinity'), $2::text)
     ORDER BY 1, 2 LIMIT $3";

// ---------------------------------------------------------------------------------------------
// Configuration

/// Where the export writes, from the environment: `BIGQUERY_DATASET` turns it on;
/// `BIGQUERY_PROJECT` (default `GOOGLE_CLOUD_PROJECT`); `BIGQUERY_ENDPOINT` points it at an
/// emulator (anonymous requests) instead of BigQuery (Application Default Credentials).
/// `None` when no dataset is configured: the rollups then stay in PostgreSQL only.
pub fn from_env(env: &Env<'_>) -> Result<Option<BigQuery>, Error> {
    let Some(dataset) = env.raw("BIGQUERY_DATASET") else {
        return Ok(None);
    };
    let project = env
        .raw("BIGQUERY_PROJECT")
        .or_else(|| env.raw("GOOGLE_CLOUD_PROJECT"))
        .ok_or_else(|| {
            Error::unavailable(std::io::Error::other(
                "BIGQUERY_DATASET is set but neither BIGQUERY_PROJECT nor GOOGLE_CLOUD_PROJECT is",
            ))
        })?;
    Ok(Some(match env.raw("BIGQUERY_ENDPOINT") {
        Some(endpoint) => BigQuery::anonymous(&endpoint, &project, &dataset),
        None => BigQuery::google(&project, &dataset)?,
    }))
}

static LOCAL_TARGET: OnceLock<BigQuery> = OnceLock::new();

/// The target of a process that runs every function itself (the dev runner with its
/// emulator): taken by [`target`] when the environment names none. Set at most once.
pub fn set_local_target(target: BigQuery) -> bool {
    LOCAL_TARGET.set(target).is_ok()
}

/// The target the job writes to: the environment's, else the dev runner's, else none.
pub fn target() -> Result<Option<BigQuery>, Error> {
    Ok(from_env(&Env::process())?.or_else(|| LOCAL_TARGET.get().cloned()))
}

// ---------------------------------------------------------------------------------------------
// The export

/// What one tenant's export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Rows written per table (re-sent rows included).
    pub rows: std::collections::BTreeMap<String, u64>,
}

impl Outcome {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }

    pub fn add(&mut self, other: &Self) {
        for (table, rows) in &other.rows {
            *self.rows.entry(table.clone()).or_default() += rows;
        }
    }
}

/// Exports `tenant`'s rows of every table changed since its watermark.
pub async fn export_tenant(pool: &Pool, target: &BigQuery, tenant: Uuid) -> Result<Outcome, Error> {
    let mut outcome = Outcome::default();
    for table in TABLES {
        let rows = export_table(pool, target, tenant, table).await?;
        outcome.rows.insert(table.name.to_owned(), rows);
    }
    Ok(outcome)
}

/// One table of one tenant: pages of rows after the watermark, each page read in its own
/// tenant transaction and written before the next is read; the watermark moves last.
pub async fn export_table(
    pool: &Pool,
    target: &BigQuery,
    tenant: Uuid,
    table: &Table,
) -> Result<u64, Error> {
    let (previous, watermark) = {
        let mut client = pool.get().await?;
        let tx = db::tenant_tx(&mut client, tenant).await?;
        let previous: Option<DateTime<Utc>> = tx
            .query_opt(
                "SELECT watermark FROM analytics.export_state WHERE table_name = $1",
                &[&table.name],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .flatten();
        let watermark: DateTime<Utc> = tx
            .query_one(
                super::rollup::SAFE_WATERMARK,
                &[&super::rollup::WATERMARK_MARGIN],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        (previous, watermark)
    };
    let mut cursor: (Option<DateTime<Utc>>, String) = (previous, String::new());
    let mut written = 0_u64;
    loop {
        let page = {
            let mut client = pool.get().await?;
            let tx = db::tenant_tx(&mut client, tenant).await?;
            let rows = tx
                .query(table.source, &[&cursor.0, &cursor.1, &BATCH_ROWS])
                .await?;
            tx.commit().await?;
            rows
        };
        let Some(last) = page.last() else { break };
        cursor = (Some(last.try_get(0)?), last.try_get(1)?);
        let rows = page
            .iter()
            .map(|row| {
                Ok(InsertRow {
                    insert_id: row.try_get(2)?,
                    json: row.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        target.insert_all(table.name, &rows).await?;
        written += u64::try_from(rows.len()).unwrap_or(u64::MAX);
        if i64::try_from(page.len()).unwrap_or(i64::MAX) < BATCH_ROWS {
            break;
        }
    }
    let mut client = pool.get().await?;
    let tx = db::tenant_tx(&mut client, tenant).await?;
    // greatest(): a slower concurrent run must not move the watermark back.
    tx.execute(
        "INSERT INTO analytics.export_state AS s
                (tenant_id, table_name, watermark, last_run_at, last_rows, rows_exported, runs)
         VALUES ($1, $2, $3, now(), $4, $4, 1)
         ON CONFLICT (tenant_id, table_name) DO UPDATE
         SET watermark = greatest(s.watermark, EXCLUDED.watermark),
             last_run_at = now(), last_rows = EXCLUDED.last_rows,
             rows_exported = s.rows_exported + EXCLUDED.last_rows, runs = s.runs + 1",
        &[
            &tenant,
            &table.name,
            &watermark,
            &i64::try_from(written).unwrap_or(i64::MAX),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_parses_and_names_its_view_columns() {
        let specs = specs().unwrap();
        assert_eq!(specs.len(), 7);
        for spec in &specs {
            let names: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
            for column in spec
                .group
                .iter()
                .chain(&spec.key)
                .chain([&spec.version, &spec.partition_field])
                .chain(std::iter::once(&CLUSTERING.to_owned()))
            {
                assert!(names.contains(&column.as_str()), "{}: {column}", spec.name);
            }
            assert!(
                spec.key.starts_with(&["tenant_id".to_owned()]),
                "{}",
                spec.name
            );
            assert!(
                spec.group.starts_with(&["tenant_id".to_owned()]),
                "{}",
                spec.name
            );
            let partition = spec
                .fields
                .iter()
                .find(|f| f.name == spec.partition_field)
                .unwrap();
            assert!(["DATE", "TIMESTAMP"].contains(&partition.kind.as_str()));
            assert_eq!(partition.mode, "REQUIRED", "{}", spec.name);
            for field in &spec.fields {
                assert!(
                    ["STRING", "INT64", "DATE", "TIMESTAMP"].contains(&field.kind.as_str()),
                    "{}.{}",
                    spec.name,
                    field.name
                );
                assert!(["REQUIRED", "NULLABLE", "REPEATED"].contains(&field.mode.as_str()));
            }
        }
    }

    #[test]
    fn the_view_keeps_the_latest_version_of_each_group_once_per_key() {
        let spec = TABLES[1].spec().unwrap();
        assert_eq!(spec.name, "order_lines");
        assert_eq!(spec.view_name(), "order_lines_current");
        assert_eq!(
            spec.view_sql("p", "d"),
            "SELECT * FROM `p.d.order_lines` WHERE TRUE QUALIFY order_version = \
             MAX(order_version) OVER (PARTITION BY tenant_id, order_id) AND ROW_NUMBER() OVER \
             (PARTITION BY tenant_id, line_id ORDER BY order_version DESC) = 1"
        );
    }

    #[test]
    fn no_dataset_means_no_export() {
        let env = Env::from_fn(|name| (name == "GOOGLE_CLOUD_PROJECT").then(|| "p".to_owned()));
        assert!(from_env(&env).unwrap().is_none());
        let env = Env::from_fn(|name| match name {
            "BIGQUERY_DATASET" => Some("olympus".to_owned()),
            "GOOGLE_CLOUD_PROJECT" => Some("p".to_owned()),
            "BIGQUERY_ENDPOINT" => Some("http://127.0.0.1:9050".to_owned()),
            _ => None,
        });
        let target = from_env(&env).unwrap().unwrap();
        assert_eq!((target.project(), target.dataset()), ("p", "olympus"));
        let env = Env::from_fn(|name| (name == "BIGQUERY_DATASET").then(|| "d".to_owned()));
        assert!(from_env(&env).is_err());
    }
}
