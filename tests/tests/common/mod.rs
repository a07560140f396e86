//! The harness of the black-box tests: the whole platform (every function plus the probes) on a
//! free port, against a database cloned from the migrated template and the Pub/Sub emulator
//! under a project of the test's own.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod api;
pub mod sales;

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

    /// A request to `path` with `token` as its bearer credential.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
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

// ---------------------------------------------------------------------------------------------
// Fixtures and assertions shared by the identity test binaries (auth_flow, mfa, users,
// locations, roles_keys, passwords, tenants). Each binary had its own copy; one copy keeps the
// fixtures (and what a problem answer must look like) the same everywhere.

/// The password of every fixture account.
pub const PASSWORD: &str = "correct horse battery staple";

/// Asserts a problem answer (`status`, `application/problem+json`, `code`) and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let actual = response.status().as_u16();
    let content_type = response.headers()["content-type"].clone();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], code, "{body}");
    body
}

/// A tenant with its built-in roles, written directly with admin SQL (sign-up is another
/// function's job), reachable at `slug`.
pub async fn tenant(platform: &TestPlatform, slug: &str) -> Uuid {
    let admin = platform.admin().await;
    let tenant = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, $2, $3)",
            &[&tenant, &slug, &format!("Tenant {slug}")],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO platform.tenant_directory (slug, tenant_id) VALUES ($1, $2)",
            &[&slug, &tenant],
        )
        .await
        .unwrap();
    for role in olympus::auth::roles::BUILTIN_ROLES {
        let permissions: Vec<String> = role.permissions.iter().map(|p| (*p).to_owned()).collect();
        admin
            .execute(
                "INSERT INTO auth.roles (id, tenant_id, name, description, permissions, builtin)
                 VALUES ($1, $2, $3, $4, $5, true)",
                &[
                    &Uuid::now_v7(),
                    &tenant,
                    &role.name,
                    &role.description,
                    &permissions,
                ],
            )
            .await
            .unwrap();
    }
    tenant
}

/// [`user_named`] "User {email}".
pub async fn user(platform: &TestPlatform, tenant: Uuid, email: &str, role: &str) -> Uuid {
    user_named(platform, tenant, email, &format!("User {email}"), role).await
}

/// An active, verified user `name` <`email`> of `tenant` with the built-in `role` everywhere,
/// password [`PASSWORD`], written with admin SQL.
pub async fn user_named(
    platform: &TestPlatform,
    tenant: Uuid,
    email: &str,
    name: &str,
    role: &str,
) -> Uuid {
    let admin = platform.admin().await;
    let user = Uuid::now_v7();
    let hash = olympus::auth::password::hash(PASSWORD.to_owned())
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO auth.users (id, tenant_id, email, name, password_hash, status,
                                     email_verified_at)
             VALUES ($1, $2, $3, $4, $5, 'active', now())",
            &[&user, &tenant, &email, &name, &hash],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO auth.role_grants (tenant_id, user_id, role_id)
             SELECT $1, $2, id FROM auth.roles WHERE tenant_id = $1 AND name = $3",
            &[&tenant, &user, &role],
        )
        .await
        .unwrap();
    user
}

/// A fixture user who signs in with [`PASSWORD`].
pub struct Account {
    pub tenant: Uuid,
    pub slug: String,
    pub user: Uuid,
    pub email: String,
}

/// A new tenant `slug` (admin SQL) and its user `{role}@{slug}.example`, named "User {email}",
/// with `role`.
pub async fn account(platform: &TestPlatform, slug: &str, role: &str) -> Account {
    let tenant = tenant(platform, slug).await;
    let email = format!("{role}@{slug}.example");
    let user = user(platform, tenant, &email, role).await;
    Account {
        tenant,
        slug: slug.to_owned(),
        user,
        email,
    }
}

/// `POST /v1/auth/login`, with a `device` name and an `X-Forwarded-For` client IP if given.
pub async fn post_login(
    platform: &TestPlatform,
    slug: &str,
    email: &str,
    password: &str,
    device: Option<&str>,
    ip: Option<&str>,
) -> reqwest::Response {
    let mut body = serde_json::json!({ "tenant": slug, "email": email, "password": password });
    if let Some(device) = device {
        body["device"] = device.into();
    }
    let mut request = platform
        .http
        .post(platform.url("/v1/auth/login"))
        .json(&body);
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

/// The sign-up body of tenant `slug` named `name`, owner "Olga Owner"
/// <`owner@{slug}.example`> with [`PASSWORD`].
pub fn signup_body(slug: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "slug": slug,
        "industry": "restaurant",
        "currency": "EUR",
        "time_zone": "Europe/Paris",
        "owner": {"name": "Olga Owner", "email": format!("owner@{slug}.example"), "password": PASSWORD}
    })
}

/// `POST /v1/tenants` (sign-up) with `body`.
pub async fn post_sign_up(platform: &TestPlatform, body: &serde_json::Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url("/v1/tenants"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Signs up with `body`, expects 201 and returns its body.
pub async fn signed_up(platform: &TestPlatform, body: &serde_json::Value) -> serde_json::Value {
    let response = post_sign_up(platform, body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

/// The owner of a tenant created through sign-up (`POST /v1/tenants`).
pub struct Owner {
    pub tenant: Uuid,
    pub slug: String,
    pub user: Uuid,
    pub email: String,
    /// The access token of the sign-up session.
    pub token: String,
    pub refresh: String,
    /// The first location, created by sign-up.
    pub location: Uuid,
}

/// Signs up tenant `slug` named "Tenant {slug}" (see [`signup_body`]).
pub async fn sign_up(platform: &TestPlatform, slug: &str) -> Owner {
    sign_up_with(platform, &signup_body(slug, &format!("Tenant {slug}"))).await
}

/// Signs up with `body` (expects 201) and returns the owner.
pub async fn sign_up_with(platform: &TestPlatform, body: &serde_json::Value) -> Owner {
    let body_sent = body;
    let body = signed_up(platform, body_sent).await;
    let id = |v: &serde_json::Value| v.as_str().unwrap().parse::<Uuid>().unwrap();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    Owner {
        tenant: id(&body["tenant"]["id"]),
        slug: text(&body_sent["slug"]),
        user: id(&body["user"]["id"]),
        email: text(&body_sent["owner"]["email"]),
        token: text(&body["tokens"]["access_token"]),
        refresh: text(&body["tokens"]["refresh_token"]),
        location: id(&body["location"]["id"]),
    }
}

/// How many audit events `action` the tenant has (admin SQL).
pub async fn audit_count(platform: &TestPlatform, tenant: Uuid, action: &str) -> i64 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit.events WHERE tenant_id = $1 AND action = $2",
            &[&tenant, &action],
        )
        .await
        .unwrap()
        .get(0)
}
