//! `build-recommendations` — scheduled job, nightly (`30 3 * * *`; also `POST
//! /jobs/build-recommendations`).
//!
//! For every tenant (walked from the public slug directory, as `rollup-sales` does, each in
//! its own tenant transaction: RLS stays in force), rebuilds the "frequently bought together"
//! tables (`olympus::analytics::recommendations::build`, shared/migrations/V13): the baskets
//! (distinct products of each placed or completed order) of the last N days, per product the
//! baskets holding it, and per directed product pair seen together in at least the minimum
//! count of baskets its pair, antecedent, consequent and basket counts with support,
//! confidence and lift. Each tenant's set is replaced in one transaction (readers see the old
//! set or the new, never half of one) holding the tenant's `analytics.recommendation_builds`
//! row, so two runs at once take turns and a re-run over the same orders builds the same
//! rows. A tenant that fails is logged and rebuilt on the next run; the others go on.
//!
//! Answers `{"tenants": n, "failed": n, "baskets": n, "products": n, "pairs": n,
//! "window_days": n}`.
//!
//! Env: `DATABASE_URL`; `RECOMMENDATIONS_WINDOW_DAYS` (days of orders, 1..=730, default 90),
//! `RECOMMENDATIONS_MIN_PAIR_COUNT` (fewest shared baskets to keep a pair, default 2) and
//! `RECOMMENDATIONS_MIN_SUPPORT_PER_MILLE` (or this share of the window's baskets when more,
//! default 1 ‰); an invalid value fails the run. Emits: nothing.

use olympus::analytics::recommendations::{self, Settings};
use olympus::analytics::rollup;
use olympus::config::Env;
use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};
use serde_json::json;

pub fn function() -> Function {
    Function::job("build-recommendations", Some("30 3 * * *"), Build)
}

struct Build;

impl Job for Build {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let settings = Settings::from_env(&Env::process())?;
        let pool = state.db()?;
        let tenants = rollup::tenants(pool).await?;
        let now = chrono::Utc::now();
        let (mut baskets, mut products, mut pairs, mut failed) = (0_i64, 0_i64, 0_i64, 0_u64);
        for tenant in &tenants {
            match recommendations::build(pool, *tenant, &settings, now).await {
                Ok(outcome) => {
                    if outcome.baskets > 0 {
                        tracing::info!(
                            %tenant,
                            baskets = outcome.baskets,
                            products = outcome.products,
                            pairs = outcome.pairs,
                            min_pair_count = outcome.min_pair_count,
                            "recommendations built"
                        );
                    }
                    baskets += outcome.baskets;
                    products += outcome.products;
                    pairs += outcome.pairs;
                }
                // One tenant's failure must not starve the others; its previous set stays.
                Err(error) => {
                    failed += 1;
                    tracing::error!(
                        %tenant,
                        error = %error.cause_chain(),
                        "building recommendations failed"
                    );
                }
            }
        }
        if failed > 0 && failed == u64::try_from(tenants.len()).unwrap_or(u64::MAX) {
            return Err(Error::unavailable(std::io::Error::other(format!(
                "building recommendations failed for all {failed} tenants"
            ))));
        }
        Ok(json!({
            "tenants": tenants.len(),
            "failed": failed,
            "baskets": baskets,
            "products": products,
            "pairs": pairs,
            "window_days": settings.window_days,
        }))
    }
}
