//! A small BigQuery REST client: `tabledata.insertAll` (the export), `jobs.query` (reading back,
//! dev and tests) and `datasets.insert` / `tables.insert` (provisioning an emulator the way
//! Terraform provisions BigQuery).
//!
//! Why reqwest and not the official `google-cloud-bigquery` crate: that crate covers queries,
//! jobs and the Storage Read/Write APIs, but not `tabledata.insertAll`, the one call the export
//! makes in production. Queries and table creation are only used against the emulator (in
//! production Terraform creates the tables and readers query them), and the few lines of REST
//! here cost less than compiling the official crate's generated clients for them.
//!
//! Credentials: with an endpoint (`BIGQUERY_ENDPOINT`, the emulator) requests are anonymous;
//! otherwise they carry the Application Default Credentials of `google-cloud-auth` (the metadata
//! server on Cloud Run), like the Pub/Sub publisher.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::TableSpec;
use crate::error::Error;

/// BigQuery's production REST root.
pub const GOOGLE_ENDPOINT: &str = "https://bigquery.googleapis.com";

/// One row for `insertAll`: its insert id (BigQuery's best-effort dedupe key) and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertRow {
    pub insert_id: String,
    pub json: Value,
}

/// A client bound to one project and dataset.
#[derive(Clone)]
pub struct BigQuery {
    http: reqwest::Client,
    endpoint: String,
    project: String,
    dataset: String,
    credentials: Option<google_cloud_auth::credentials::Credentials>,
}

impl std::fmt::Debug for BigQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BigQuery")
            .field("endpoint", &self.endpoint)
            .field("project", &self.project)
            .field("dataset", &self.dataset)
            .field("anonymous", &self.credentials.is_none())
            .finish_non_exhaustive()
    }
}

fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::unavailable(std::io::Error::other(what.to_string()))
}

impl BigQuery {
    /// A client of an emulator (or any endpoint that wants no credentials), e.g.
    /// `http://127.0.0.1:9050`.
    pub fn anonymous(endpoint: &str, project: &str, dataset: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            project: project.to_owned(),
            dataset: dataset.to_owned(),
            credentials: None,
        }
    }

    /// A client of BigQuery itself with Application Default Credentials.
    pub fn google(project: &str, dataset: &str) -> Result<Self, Error> {
        let credentials = google_cloud_auth::credentials::Builder::default()
            .with_scopes(["https://www.googleapis.com/auth/bigquery"])
            .build()
            .map_err(|e| unavailable(format!("BigQuery credentials: {e}")))?;
        Ok(Self {
            credentials: Some(credentials),
            ..Self::anonymous(GOOGLE_ENDPOINT, project, dataset)
        })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// `project.dataset.table`, quoted for standard SQL.
    pub fn qualified(&self, table: &str) -> String {
        format!("`{}.{}.{table}`", self.project, self.dataset)
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/bigquery/v2/projects/{}{path}",
            self.endpoint, self.project
        )
    }

    async fn headers(&self) -> Result<HeaderMap, Error> {
        use google_cloud_auth::credentials::CacheableResource;
        let Some(credentials) = &self.credentials else {
            return Ok(HeaderMap::new());
        };
        match credentials.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => Ok(data),
            // Only answered to a request that sent an entity tag; this one sends none.
            Ok(CacheableResource::NotModified) => Ok(HeaderMap::new()),
            Err(e) => Err(unavailable(format!("BigQuery credentials: {e}"))),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), Error> {
        let response = self
            .http
            .post(self.url(path))
            .headers(self.headers().await?)
            .json(body)
            .send()
            .await
            .map_err(|e| unavailable(format!("BigQuery {path}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(format!("BigQuery {path}: {e}")))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// `tabledata.insertAll` of `rows` into `table`: all or nothing (`skipInvalidRows` false,
    /// `ignoreUnknownValues` false), so a row BigQuery would refuse fails the whole request and
    /// the caller's watermark stays put.
    pub async fn insert_all(&self, table: &str, rows: &[InsertRow]) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let body = json!({
            "kind": "bigquery#tableDataInsertAllRequest",
            "skipInvalidRows": false,
            "ignoreUnknownValues": false,
            "rows": rows
                .iter()
                .map(|row| json!({"insertId": row.insert_id, "json": row.json}))
                .collect::<Vec<_>>(),
        });
        let path = format!("/datasets/{}/tables/{table}/insertAll", self.dataset);
        let (status, answer) = self.post(&path, &body).await?;
        if status != 200 {
            return Err(unavailable(format!(
                "BigQuery insertAll into {table}: HTTP {status}: {answer}"
            )));
        }
        match answer.get("insertErrors").and_then(Value::as_array) {
            Some(errors) if !errors.is_empty() => Err(unavailable(format!(
                "BigQuery refused rows of {table}: {}",
                Value::Array(errors.iter().take(5).cloned().collect())
            ))),
            _ => Ok(()),
        }
    }

    /// Runs a standard-SQL query (`jobs.query`) and answers its rows as objects keyed by column
    /// name, values as BigQuery renders them (strings; repeated fields as arrays).
    pub async fn query(&self, sql: &str) -> Result<Vec<Map<String, Value>>, Error> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            schema: Option<Schema>,
            #[serde(default)]
            rows: Vec<Row>,
            #[serde(rename = "jobComplete", default)]
            job_complete: Option<bool>,
        }
        #[derive(Deserialize)]
        struct Schema {
            fields: Vec<Named>,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        #[derive(Deserialize)]
        struct Row {
            f: Vec<Cell>,
        }
        #[derive(Deserialize)]
        struct Cell {
            v: Value,
        }
        let body = json!({"query": sql, "useLegacySql": false, "timeoutMs": 30_000});
        let (status, answer) = self.post("/queries", &body).await?;
        if status != 200 {
            return Err(unavailable(format!(
                "BigQuery query: HTTP {status}: {answer}"
            )));
        }
        let answer: Answer = serde_json::from_value(answer)
            .map_err(|e| unavailable(format!("BigQuery query answer: {e}")))?;
        if answer.job_complete == Some(false) {
            return Err(unavailable("BigQuery query did not complete within 30 s"));
        }
        let names: Vec<String> = answer
            .schema
            .map(|s| s.fields.into_iter().map(|f| f.name).collect())
            .unwrap_or_default();
        Ok(answer
            .rows
            .into_iter()
            .map(|row| {
                names
                    .iter()
                    .cloned()
                    .zip(row.f.into_iter().map(|cell| flatten(cell.v)))
                    .collect()
            })
            .collect())
    }

    /// Creates the dataset, every table (schema, day partitioning, clustering by tenant) and
    /// its `_current` view, skipping those that exist: what `terraform/bigquery.tf` does, for
    /// an emulator.
    pub async fn provision(&self, tables: &[TableSpec]) -> Result<(), Error> {
        let dataset =
            json!({"datasetReference": {"projectId": self.project, "datasetId": self.dataset}});
        self.create("/datasets", &dataset).await?;
        let path = format!("/datasets/{}/tables", self.dataset);
        for table in tables {
            let reference = |id: &str| json!({"projectId": self.project, "datasetId": self.dataset, "tableId": id});
            let body = json!({
                "tableReference": reference(&table.name),
                "description": table.description,
                "schema": {"fields": table.fields},
                "timePartitioning": {"type": "DAY", "field": table.partition_field},
                "clustering": {"fields": [super::CLUSTERING]},
            });
            self.create(&path, &body).await?;
            let view = json!({
                "tableReference": reference(&table.view_name()),
                "view": {"query": table.view_sql(&self.project, &self.dataset), "useLegacySql": false},
            });
            self.create(&path, &view).await?;
        }
        Ok(())
    }

    async fn create(&self, path: &str, body: &Value) -> Result<(), Error> {
        match self.post(path, body).await? {
            (200, _) | (409, _) => Ok(()),
            (status, answer) => Err(unavailable(format!(
                "BigQuery create {path}: HTTP {status}: {answer}"
            ))),
        }
    }
}

/// A query cell's value: repeated fields come as `[{"v": ..}, ..]`, plain ones as they are.
fn flatten(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(mut cell) if cell.len() == 1 && cell.contains_key("v") => {
                        cell.remove("v").map_or(Value::Null, flatten)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_cells_are_unwrapped() {
        assert_eq!(flatten(json!([{"v": "a"}, {"v": "b"}])), json!(["a", "b"]));
        assert_eq!(flatten(json!("7")), json!("7"));
        assert_eq!(flatten(json!(["x"])), json!(["x"]));
    }

    #[test]
    fn urls_and_names_are_the_rest_apis() {
        let client = BigQuery::anonymous("http://127.0.0.1:9050/", "p", "d");
        assert_eq!(
            client.url("/queries"),
            "http://127.0.0.1:9050/bigquery/v2/projects/p/queries"
        );
        assert_eq!(client.qualified("orders"), "`p.d.orders`");
    }
}
