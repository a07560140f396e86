//! `rollup-sales` — scheduled job, every 15 minutes (`*/15 * * * *`; also `POST
//! /jobs/rollup-sales`).
//!
//! For every tenant (walked from the public slug directory, each in its own tenant
//! transaction: RLS stays in force), recomputes the sales rollups of the business days touched
//! since the tenant's last run (`olympus::analytics::rollup::incremental`): days of orders
//! created or changed (lines, placing, payments, refunds, cancelling), the days their refunds
//! fall on, and every day of a location whose settings changed. Each day is rebuilt whole from
//! the orders, so a run that fails or runs twice leaves the same rows; two runs at once take
//! turns per tenant on its `analytics.rollup_state` row. A tenant that fails is logged and
//! retried on the next run; the others go on.
//!
//! A job takes no arguments: a backfill of a date range is `olympus::analytics::rollup::
//! backfill`, run by `dev rollup --from --to [--tenant]` (or any operator tool linking it).
//!
//! Answers `{"tenants": n, "failed": n, "days": n, "rows": n}`.
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::analytics::rollup::{self, Outcome};
use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};
use serde_json::json;

pub fn function() -> Function {
    Function::job("rollup-sales", Some("*/15 * * * *"), Rollup)
}

struct Rollup;

impl Job for Rollup {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let pool = state.db()?;
        let tenants = rollup::tenants(pool).await?;
        let mut total = Outcome::default();
        let mut failed = 0_u64;
        for tenant in &tenants {
            match rollup::incremental(pool, *tenant).await {
                Ok(outcome) => {
                    if outcome.days > 0 {
                        tracing::info!(%tenant, days = outcome.days, rows = outcome.rows, "sales rolled up");
                    }
                    total += outcome;
                }
                // One tenant's failure (a lock timeout, a bad row) must not starve the others;
                // its watermark did not move, so the next run redoes its days.
                Err(error) => {
                    failed += 1;
                    tracing::error!(%tenant, error = %error.cause_chain(), "sales rollup failed");
                }
            }
        }
        if failed > 0 && failed == u64::try_from(tenants.len()).unwrap_or(u64::MAX) {
            return Err(Error::unavailable(std::io::Error::other(format!(
                "the sales rollup failed for all {failed} tenants"
            ))));
        }
        Ok(json!({
            "tenants": tenants.len(),
            "failed": failed,
            "days": total.days,
            "rows": total.rows,
        }))
    }
}
