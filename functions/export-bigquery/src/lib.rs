//! `export-bigquery` — scheduled job, hourly (`0 * * * *`; also `POST /jobs/export-bigquery`).
//!
//! For every tenant (walked from the public slug directory, each read in its own tenant
//! transactions: RLS stays in force), appends the orders, order lines, payments, refunds,
//! inventory movements and daily rollups changed since the tenant's per-table watermark to the
//! BigQuery dataset (`olympus::analytics::export`, which says how a re-run after a crash stays
//! invisible to readers of the `<table>_current` views). Schemas: `shared/bigquery/*.json`,
//! the same files Terraform creates the tables from. A tenant that fails is logged and retried
//! on the next run (its watermarks did not move); the others go on.
//!
//! Answers `{"tenants": n, "failed": n, "rows": n, "tables": {"orders": n, ...}}`, or
//! `{"skipped": "bigquery not configured"}` when no dataset is configured (the rollups then
//! stay in PostgreSQL only). Fails (503) only when every tenant failed.
//!
//! Env: `DATABASE_URL`, `BIGQUERY_DATASET` (turns the export on), `BIGQUERY_PROJECT` (default
//! `GOOGLE_CLOUD_PROJECT`), `BIGQUERY_ENDPOINT` (an emulator's URL: anonymous requests;
//! unset: BigQuery with Application Default Credentials). Emits: nothing.

use olympus::analytics::export::{self, Outcome};
use olympus::analytics::rollup;
use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};
use serde_json::json;

pub fn function() -> Function {
    Function::job("export-bigquery", Some("0 * * * *"), Export)
}

struct Export;

impl Job for Export {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let Some(target) = export::target()? else {
            tracing::info!("bigquery not configured (BIGQUERY_DATASET unset): export skipped");
            return Ok(json!({"skipped": "bigquery not configured"}));
        };
        let pool = state.db()?;
        let tenants = rollup::tenants(pool).await?;
        let mut total = Outcome::default();
        let mut failed = 0_u64;
        for tenant in &tenants {
            match export::export_tenant(pool, &target, *tenant).await {
                Ok(outcome) => {
                    if outcome.total() > 0 {
                        tracing::info!(%tenant, rows = outcome.total(), "exported to bigquery");
                    }
                    total.add(&outcome);
                }
                Err(error) => {
                    failed += 1;
                    tracing::error!(%tenant, error = %error.cause_chain(), "bigquery export failed");
                }
            }
        }
        if failed > 0 && failed == u64::try_from(tenants.len()).unwrap_or(u64::MAX) {
            return Err(Error::unavailable(std::io::Error::other(format!(
                "the bigquery export failed for all {failed} tenants"
            ))));
        }
        Ok(json!({
            "tenants": tenants.len(),
            "failed": failed,
            "rows": total.total(),
            "tables": total.rows,
        }))
    }
}
