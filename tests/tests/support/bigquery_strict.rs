//! A strict in-process double of BigQuery's `tabledata.insertAll`, for what the emulator lets
//! through: bqemulator accepts unknown fields and never dedupes insert ids, BigQuery does
//! neither. The double knows the tables Terraform creates (it reads `shared/bigquery/*.json`
//! from disk itself, not through the code under test) and applies BigQuery's rules:
//!
//! - a field the table does not have: `invalid`, "no such field" (with `ignoreUnknownValues`
//!   false, which is what the export sends);
//! - a value of the wrong JSON type for its column (STRING, INT64 as a number or a decimal
//!   string, DATE `YYYY-MM-DD`, TIMESTAMP RFC 3339, REPEATED an array), a REQUIRED field
//!   missing or null: `invalid`;
//! - with `skipInvalidRows` false one bad row fails the whole request: the others are
//!   `stopped` and nothing is stored;
//! - a row whose insert id the table has already seen is accepted and dropped (BigQuery's
//!   dedupe, here perfect rather than best effort);
//! - an unknown table is 404.
//!
//! `fail_next` makes the next requests answer 503, like a BigQuery outage.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Map, Value, json};

/// One column as the schema file gives it.
#[derive(Debug, Clone)]
struct Column {
    kind: String,
    mode: String,
}

#[derive(Debug, Default)]
struct Store {
    /// Table -> rows accepted, in order.
    rows: BTreeMap<String, Vec<Value>>,
    seen: HashSet<(String, String)>,
    requests: usize,
}

#[derive(Clone)]
struct Shared {
    schemas: Arc<BTreeMap<String, BTreeMap<String, Column>>>,
    store: Arc<Mutex<Store>>,
    fail_next: Arc<AtomicUsize>,
}

/// The running double.
pub struct StrictBigQuery {
    pub endpoint: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

/// The tables Terraform creates, read from the schema files.
fn schemas() -> BTreeMap<String, BTreeMap<String, Column>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bigquery");
    let mut tables = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let columns = file["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    Column {
                        kind: f["type"].as_str().unwrap().to_owned(),
                        mode: f["mode"].as_str().unwrap_or("NULLABLE").to_owned(),
                    },
                )
            })
            .collect();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        tables.insert(name, columns);
    }
    tables
}

impl StrictBigQuery {
    pub async fn start() -> Self {
        let shared = Shared {
            schemas: Arc::new(schemas()),
            store: Arc::default(),
            fail_next: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}/insertAll",
                post(insert_all),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            endpoint,
            shared,
            server,
        }
    }

    /// The rows `table` holds (what a `SELECT *` of the raw table would return).
    pub fn rows(&self, table: &str) -> Vec<Value> {
        self.shared
            .store
            .lock()
            .unwrap()
            .rows
            .get(table)
            .cloned()
            .unwrap_or_default()
    }

    /// insertAll requests received (accepted or not).
    pub fn requests(&self) -> usize {
        self.shared.store.lock().unwrap().requests
    }

    /// The next `n` requests answer 503.
    pub fn fail_next(&self, n: usize) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }
}

impl Drop for StrictBigQuery {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// BigQuery's check of one value against its column; `None` when it is accepted.
fn refuse(column: &Column, value: &Value) -> Option<String> {
    if column.mode == "REPEATED" {
        let Value::Array(items) = value else {
            return Some(format!(
                "Array specified for non-repeated field or {value} for a repeated one"
            ));
        };
        let single = Column {
            kind: column.kind.clone(),
            mode: "REQUIRED".to_owned(),
        };
        return items.iter().find_map(|item| refuse(&single, item));
    }
    if value.is_null() {
        return (column.mode == "REQUIRED").then(|| "Missing required field".to_owned());
    }
    let ok = match column.kind.as_str() {
        "STRING" => value.is_string(),
        "INT64" | "INTEGER" => {
            value.is_i64() || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
        }
        "DATE" => value
            .as_str()
            .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        "TIMESTAMP" => {
            value.is_number()
                || value
                    .as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
        }
        other => panic!("the double does not know type {other}"),
    };
    (!ok).then(|| format!("Cannot convert value {value} to {}", column.kind))
}

/// The errors of one row (empty: accepted).
fn row_errors(
    columns: &BTreeMap<String, Column>,
    row: &Map<String, Value>,
    ignore_unknown: bool,
) -> Vec<Value> {
    let mut errors = Vec::new();
    for (name, value) in row {
        match columns.get(name) {
            None if ignore_unknown => {}
            None => errors.push(json!({"reason": "invalid", "location": name,
                                       "message": format!("no such field: {name}.")})),
            Some(column) => {
                if let Some(message) = refuse(column, value) {
                    errors.push(json!({"reason": "invalid", "location": name, "message": message}));
                }
            }
        }
    }
    for (name, column) in columns {
        if column.mode == "REQUIRED" && !row.contains_key(name) {
            errors.push(json!({"reason": "invalid", "location": name,
                               "message": format!("Missing required field: {name}.")}));
        }
    }
    errors
}

async fn insert_all(
    State(shared): State<Shared>,
    Path((_project, _dataset, table)): Path<(String, String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    shared.store.lock().unwrap().requests += 1;
    if shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": {"code": 503, "message": "backend error"}})),
        );
    }
    let Some(columns) = shared.schemas.get(&table) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": {"code": 404, "message": format!("Not found: Table {table}")}}),
            ),
        );
    };
    let skip_invalid = body["skipInvalidRows"].as_bool().unwrap_or(false);
    let ignore_unknown = body["ignoreUnknownValues"].as_bool().unwrap_or(false);
    let Some(rows) = body["rows"].as_array() else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": {"code": 400, "message": "No rows present in the request."}}),
            ),
        );
    };
    let mut insert_errors = Vec::new();
    let mut valid = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let Some(fields) = row["json"].as_object() else {
            insert_errors.push(json!({"index": index, "errors": [{"reason": "invalid", "message": "json is not an object"}]}));
            continue;
        };
        let errors = row_errors(columns, fields, ignore_unknown);
        if errors.is_empty() {
            valid.push((
                index,
                row["insertId"].as_str().map(str::to_owned),
                fields.clone(),
            ));
        } else {
            insert_errors.push(json!({"index": index, "errors": errors}));
        }
    }
    if !insert_errors.is_empty() && !skip_invalid {
        for (index, _, _) in &valid {
            insert_errors
                .push(json!({"index": index, "errors": [{"reason": "stopped", "message": ""}]}));
        }
        return (
            StatusCode::OK,
            axum::Json(
                json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": insert_errors}),
            ),
        );
    }
    let mut store = shared.store.lock().unwrap();
    for (_, insert_id, fields) in valid {
        if let Some(id) = insert_id
            && !store.seen.insert((table.clone(), id))
        {
            continue;
        }
        store
            .rows
            .entry(table.clone())
            .or_default()
            .push(Value::Object(fields));
    }
    let answer = if insert_errors.is_empty() {
        json!({"kind": "bigquery#tableDataInsertAllResponse"})
    } else {
        json!({"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": insert_errors})
    };
    (StatusCode::OK, axum::Json(answer))
}
