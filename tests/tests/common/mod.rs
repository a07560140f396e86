//! The harness of the black-box tests: the whole platform (every function plus the probes) on a
//! free port, against a database cloned from the migrated template and the Pub/Sub emulator
//! under a project of the test's own.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dev::pubsub::RetrySettings;
use dev::runner::{Options, Platform};
use olympus::testing::TestDb;
use olympus::testing::tokens::{self, TestKeys};
use uuid::Uuid;

pub struct TestPlatform {
    pub db: TestDb,
    pub platform: Platform,
    pub keys: TestKeys,
    pub operator_tenant: Uuid,
    pub project: String,
    pub http: reqwest::Client,
}

/// The private key as `AUTH_SIGNING_KEY` takes it (base64 PKCS#8 DER).
pub fn signing_key(keys: &TestKeys) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(keys.pkcs8_der())
}

/// `AUTH_SIGNING_ALG` for a key.
pub fn signing_alg(keys: &TestKeys) -> &'static str {
    if format!("{:?}", keys.algorithm()) == "EdDSA" {
        "EdDSA"
    } else {
        "ES256"
    }
}

/// Whether the emulator is there; without it (only when explicitly allowed) emulator tests skip.
pub fn emulator_or_skip(test: &str) -> Option<String> {
    match olympus::testing::emulator_host() {
        Some(host) => Some(host),
        None if std::env::var_os("OLYMPUS_ALLOW_NO_EMULATOR").is_some() => {
            eprintln!("SKIPPED {test}: no Pub/Sub emulator (OLYMPUS_ALLOW_NO_EMULATOR is set)");
            None
        }
        None => panic!("{test} needs the Pub/Sub emulator: run it with `make test`"),
    }
}

impl TestPlatform {
    /// Starts the platform; `emulator_host` None uses the in-process bus.
    pub async fn start(emulator_host: Option<String>) -> Self {
        Self::start_with(emulator_host, &[]).await
    }

    async fn start_with(emulator_host: Option<String>, extra: &[(&str, String)]) -> Self {
        let db = TestDb::create().await;
        let owner = TestDb::connect(&db.owner_url).await;
        owner
            .batch_execute(platform_tests::PROBE_FIXTURE_SQL)
            .await
            .expect("probe fixtures");
        let keys = TestKeys::es256("test-1").expect("keys");
        let operator_tenant = Uuid::now_v7();
        let mut env = HashMap::new();
        env.insert("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys]));
        env.insert("AUTH_SIGNING_KEY".to_owned(), signing_key(&keys));
        env.insert("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned());
        env.insert("AUTH_SIGNING_ALG".to_owned(), signing_alg(&keys).to_owned());
        env.insert("OPERATOR_TENANT_ID".to_owned(), operator_tenant.to_string());
        env.insert("MAX_BODY_BYTES".to_owned(), "65536".to_owned());
        env.insert(
            "CORS_ALLOWED_ORIGINS".to_owned(),
            "https://pos.example".to_owned(),
        );
        for (name, value) in extra {
            env.insert((*name).to_owned(), value.clone());
        }
        let project = format!("test-{}", Uuid::now_v7().simple());
        let mut functions = dev::registry::all();
        functions.extend(platform_tests::probes());
        let platform = Platform::start(Options {
            database_url: db.app_url.clone(),
            project: project.clone(),
            emulator_host,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            functions,
            run_schedules: false,
            env,
            retry: RetrySettings::default(),
        })
        .await
        .expect("platform starts");
        Self {
            db,
            platform,
            keys,
            operator_tenant,
            project,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.platform.url())
    }

    pub fn token(&self, tenant: Uuid, perms: &[&str]) -> String {
        let config = self.platform.state.config();
        let claims = tokens::claims(
            tenant,
            Uuid::now_v7(),
            perms,
            &config.auth_issuer,
            &config.auth_audience,
        );
        self.keys.mint(&claims).expect("mint")
    }

    pub fn operator_token(&self) -> String {
        self.token(self.operator_tenant, &[olympus::auth::OPERATE])
    }

    pub async fn owner(&self) -> tokio_postgres::Client {
        TestDb::connect(&self.db.owner_url).await
    }

    /// A superuser connection: for fixtures that must reach across tenants (RLS binds even the
    /// owner, since it is FORCEd).
    pub async fn admin(&self) -> tokio_postgres::Client {
        TestDb::connect(&self.db.admin_url).await
    }

    pub async fn stop(self) {
        self.platform.stop().await;
    }
}

/// Polls `check` until it returns Some or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Like [`TestPlatform::start`], with `extra` environment entries added or overriding the
/// harness's own (e.g. `AUTH_JWKS`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID` for key rotation).
/// `keys` stays the harness key: when `extra` replaces the key set, mint with your own keys.
pub async fn start_with_env(
    emulator_host: Option<String>,
    extra: &[(&str, String)],
) -> TestPlatform {
    TestPlatform::start_with(emulator_host, extra).await
}
