//! `export-bigquery` — scheduled job (`0 * * * *`; issue 6, being built).
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::job("export-bigquery", Some("0 * * * *"), Pending)
}

struct Pending;

impl Job for Pending {
    async fn run(&self, _state: AppState) -> Result<JobReport, Error> {
        Err(Error::unavailable(std::io::Error::other("not built yet")))
    }
}
