//! Test support: throwaway databases cloned from a migrated template, token minting. Enabled by
//! the `testing` feature, which only dev-dependencies and the dev runner turn on.
//!
//! `make test` runs the suite under `dev with-services`, which starts a PostgreSQL cluster with
//! the migrated template database and the Pub/Sub emulator, and passes their addresses in the
//! variables below.

pub mod tokens;

use std::sync::Arc;

use uuid::Uuid;

use crate::config::{Config, Env};
use crate::db::Pool;
use crate::events::publisher::Publisher;
use crate::state::AppState;

/// The migrated database every test database is cloned from.
pub const TEMPLATE_DATABASE: &str = "olympus_template";
/// Superuser URL with `{db}` where the database name goes.
pub const ADMIN_URL_VAR: &str = "OLYMPUS_TEST_ADMIN_URL";
/// Owner-role URL with `{db}`.
pub const OWNER_URL_VAR: &str = "OLYMPUS_TEST_OWNER_URL";
/// App-role URL with `{db}`.
pub const APP_URL_VAR: &str = "OLYMPUS_TEST_APP_URL";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with `make test` (it starts PostgreSQL and the \
             Pub/Sub emulator through `dev with-services`)"
        )
    })
}

/// A fresh database cloned from the migrated template; dropped at the end of the test run
/// with the whole cluster.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub admin_url: String,
    pub owner_url: String,
    pub app_url: String,
}

impl TestDb {
    /// Clones the template into a uniquely named database.
    ///
    /// # Panics
    /// Outside `make test` (the variables are missing) or when the cluster refuses.
    #[allow(clippy::expect_used)]
    pub async fn create() -> Self {
        let name = format!("t_{}", Uuid::now_v7().simple());
        let admin_url = var(ADMIN_URL_VAR).replace("{db}", "postgres");
        let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("cannot connect to the test cluster");
        let driver = tokio::spawn(connection);
        // The clone keeps the template's owner (the migration role), as a deployed database would.
        let owner: String = client
            .query_one(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
                &[&TEMPLATE_DATABASE],
            )
            .await
            .expect("the template database exists")
            .get(0);
        // Concurrent clones of one template are fine as long as nobody is connected to it.
        client
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE_DATABASE} OWNER {}",
                crate::db::quote_ident(&owner)
            ))
            .await
            .expect("cannot clone the template database");
        drop(client);
        let _ = driver.await;
        Self {
            admin_url: var(ADMIN_URL_VAR).replace("{db}", &name),
            owner_url: var(OWNER_URL_VAR).replace("{db}", &name),
            app_url: var(APP_URL_VAR).replace("{db}", &name),
            name,
        }
    }

    /// A pool connecting as the app role (what functions use).
    #[allow(clippy::expect_used)]
    pub fn app_pool(&self) -> Pool {
        crate::db::pool(&self.app_url, 8).expect("valid test URL")
    }

    /// A plain client as the given URL (owner or admin), for fixtures and assertions.
    #[allow(clippy::expect_used)]
    pub async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("cannot connect to the test database");
        tokio::spawn(connection);
        client
    }

    /// State for handler tests: this database, the given publisher, the given extra variables
    /// (e.g. `AUTH_JWKS`).
    #[allow(clippy::expect_used)]
    pub fn state(&self, publisher: Arc<dyn Publisher>, vars: &[(&str, String)]) -> AppState {
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let config = Config::from(&Env::from_fn(|k| vars.get(k).cloned())).expect("valid config");
        let verifier = crate::auth::Verifier::from_config(&config).expect("valid JWKS");
        AppState::new(config, Some(self.app_pool()), publisher, verifier)
    }
}

/// The emulator address when `make test` started one.
pub fn emulator_host() -> Option<String> {
    std::env::var("PUBSUB_EMULATOR_HOST")
        .ok()
        .filter(|h| !h.is_empty())
}
