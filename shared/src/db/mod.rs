//! PostgreSQL: the pool, tenant-scoped transactions, and the embedded migrations.
//!
//! Functions connect as the app role (no ownership, no BYPASSRLS). Every tenant query runs in a
//! transaction that first sets `app.tenant_id` with `set_config(..., true)`, so the setting dies
//! with the transaction and never leaks to the next user of a pooled connection.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::config::ConfigError;
use crate::error::Error;

pub use deadpool_postgres::{Client, Pool, Transaction};

/// The tenant of unauthenticated requests (sign-up, public endpoints) where a tenant table row
/// must still be scoped, e.g. idempotency records.
pub const PUBLIC_TENANT: Uuid = Uuid::nil();

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A lazy pool: no connection is opened until the first query, so start-up does no I/O.
///
/// `url` is a `postgres://` URL or a key=value string; a `host` that is a directory (such as
/// Cloud SQL's `/cloudsql/PROJECT:REGION:INSTANCE`) connects over its Unix socket.
pub fn pool(url: &str, max_size: usize) -> Result<Pool, ConfigError> {
    let mut pg = tokio_postgres::Config::from_str(url).map_err(|e| ConfigError::Invalid {
        var: "DATABASE_URL".into(),
        value: redact(url),
        problem: e.to_string(),
    })?;
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(Duration::from_secs(5));
    }
    if pg.get_application_name().is_none() {
        pg.application_name(std::env::var("K_SERVICE").as_deref().unwrap_or("olympus"));
    }
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| ConfigError::Invalid {
            var: "DATABASE_URL".into(),
            value: redact(url),
            problem: e.to_string(),
        })
}

/// The URL with any password replaced, safe to print.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
    {
        let user = userinfo.split(':').next().unwrap_or_default();
        return format!("{scheme}://{user}:***@{host}");
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Begins a transaction scoped to `tenant`: every RLS-protected query in it sees only that
/// tenant's rows.
pub async fn tenant_tx(client: &mut Client, tenant: Uuid) -> Result<Transaction<'_>, Error> {
    let tx = client.transaction().await?;
    // Prepared once per connection: every request then pays one round trip here, not two.
    let scope = tx.prepare_cached(SET_TENANT).await?;
    tx.execute(&scope, &[&tenant.to_string()]).await?;
    Ok(tx)
}

/// The statement that scopes a transaction to a tenant.
const SET_TENANT: &str = "SELECT set_config('app.tenant_id', $1, true)";

/// Parameters of one query of [`tenant_read`].
pub type Params<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

/// Runs read-only `queries` for `tenant` in one transaction and one network round trip:
/// `BEGIN READ ONLY`, the tenant setting, every query and `COMMIT` are sent together
/// (tokio-postgres pipelines requests that are polled together), where [`tenant_tx`] plus the
/// queries plus commit wait for four round trips in turn. For the hottest reads (a till
/// fetching a product); anything that writes or branches on what it read uses [`tenant_tx`].
///
/// Every request is queued on the connection in the first poll, so even if the caller is
/// cancelled the `COMMIT` still reaches the server and the connection goes back to the pool
/// outside any transaction; a failed query aborts the transaction, whose `COMMIT` then rolls
/// back.
pub async fn tenant_read(
    client: &Client,
    tenant: Uuid,
    queries: &[(&str, Params<'_>)],
) -> Result<Vec<Vec<tokio_postgres::Row>>, Error> {
    pipelined(client, "BEGIN READ ONLY", tenant, queries).await
}

/// Runs `queries` (writes that need nothing read in between) for `tenant` as one transaction
/// in one round trip, as [`tenant_read`] does for reads. `begin` may carry `SET LOCAL`s
/// (e.g. `synchronous_commit`). A failed statement rolls everything back and is the error.
pub async fn tenant_batch(
    client: &Client,
    begin: &'static str,
    tenant: Uuid,
    queries: &[(&str, Params<'_>)],
) -> Result<Vec<Vec<tokio_postgres::Row>>, Error> {
    pipelined(client, begin, tenant, queries).await
}

/// Runs `queries` in `tx` in their order, in one round trip: each is prepared (once per
/// connection), then all are sent together. Later statements see the effects of earlier ones,
/// as in any transaction; the first failure is returned (what follows it only reports the
/// aborted transaction). Plain `try_join!` of `*_cached` calls does not guarantee the order:
/// a statement not yet prepared on this connection would run after one that is.
pub async fn pipeline(
    tx: &Transaction<'_>,
    queries: &[(&str, Params<'_>)],
) -> Result<Vec<Vec<tokio_postgres::Row>>, Error> {
    let mut statements = Vec::with_capacity(queries.len());
    for (sql, _) in queries {
        statements.push(tx.prepare_cached(sql).await?);
    }
    let results = futures::future::join_all(
        statements
            .iter()
            .zip(queries)
            .map(|(statement, (_, params))| tx.query(statement, params)),
    )
    .await;
    Ok(results.into_iter().collect::<Result<Vec<_>, _>>()?)
}

async fn pipelined(
    client: &Client,
    begin: &str,
    tenant: Uuid,
    queries: &[(&str, Params<'_>)],
) -> Result<Vec<Vec<tokio_postgres::Row>>, Error> {
    let scope = client.prepare_cached(SET_TENANT).await?;
    let mut statements = Vec::with_capacity(queries.len());
    for (sql, _) in queries {
        statements.push(client.prepare_cached(sql).await?);
    }
    let tenant = tenant.to_string();
    let scope_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&tenant];
    let work = futures::future::join_all(
        statements
            .iter()
            .zip(queries)
            .map(|(statement, (_, params))| client.query(statement, params)),
    );
    let (begun, scoped, rows, committed) = futures::join!(
        client.batch_execute(begin),
        client.execute(&scope, &scope_params),
        work,
        client.batch_execute("COMMIT"),
    );
    // The first failure is the cause; what follows it only reports the aborted transaction.
    begun?;
    scoped?;
    let rows = rows.into_iter().collect::<Result<Vec<_>, _>>()?;
    committed?;
    Ok(rows)
}

/// Queries by SQL text whose statement is prepared once per pooled connection and reused.
///
/// A bare `tx.query("...")` makes tokio-postgres parse, plan and describe the statement on the
/// server and wait for that answer before it can execute: two round trips and a parse per
/// call. On the paths a till hits for every order that was most of the database time. Only
/// for SQL whose text is fixed (constants, `format!` of constants): each distinct text stays
/// cached on the connection for its life.
pub trait Prepared {
    fn query_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl std::future::Future<Output = Result<Vec<tokio_postgres::Row>, Error>> + Send;

    fn query_one_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl std::future::Future<Output = Result<tokio_postgres::Row, Error>> + Send;

    fn query_opt_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl std::future::Future<Output = Result<Option<tokio_postgres::Row>, Error>> + Send;

    fn execute_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl std::future::Future<Output = Result<u64, Error>> + Send;
}

macro_rules! impl_prepared {
    ($ty:ty) => {
        impl Prepared for $ty {
            async fn query_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Vec<tokio_postgres::Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query(&statement, params).await?)
            }

            async fn query_one_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<tokio_postgres::Row, Error> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query_one(&statement, params).await?)
            }

            async fn query_opt_cached(
                &self,
                sql: &str,
                params: Params<'_>,
            ) -> Result<Option<tokio_postgres::Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.query_opt(&statement, params).await?)
            }

            async fn execute_cached(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
                let statement = self.prepare_cached(sql).await?;
                Ok(self.execute(&statement, params).await?)
            }
        }
    };
}

impl_prepared!(Transaction<'_>);
impl_prepared!(Client);

/// Takes a connection from the pool and runs `work` in a tenant transaction, committing on
/// success. For handlers that need no more control than that.
pub async fn with_tenant<T, F>(pool: &Pool, tenant: Uuid, work: F) -> Result<T, Error>
where
    F: for<'c> FnOnce(&'c Transaction<'c>) -> futures::future::BoxFuture<'c, Result<T, Error>>,
{
    let mut client = pool.get().await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let value = work(&tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// What `migrate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub app_role: String,
}

/// Applies the embedded migrations as the connected (owner) role, then grants the app role
/// what functions need: data access, never ownership.
pub async fn migrate(
    client: &mut tokio_postgres::Client,
    app_role: &str,
) -> Result<MigrationReport, Error> {
    // Concurrent `migrate` runs (two deploys at once) serialize on an advisory lock.
    client
        .execute("SELECT pg_advisory_lock(7243591)", &[])
        .await?;
    let result = run_migrations(client, app_role).await;
    client
        .execute("SELECT pg_advisory_unlock(7243591)", &[])
        .await?;
    result
}

async fn run_migrations(
    client: &mut tokio_postgres::Client,
    app_role: &str,
) -> Result<MigrationReport, Error> {
    let report = embedded::migrations::runner()
        .set_abort_divergent(true)
        .run_async(client)
        .await
        .map_err(|e| Error::internal(std::io::Error::other(format!("migration failed: {e}"))))?;
    grant_app_role(client, app_role).await?;
    Ok(MigrationReport {
        applied: report
            .applied_migrations()
            .iter()
            .map(|m| format!("V{}__{}", m.version(), m.name()))
            .collect(),
        app_role: app_role.to_owned(),
    })
}

/// Schemas owned by the platform; every one is granted to the app role.
pub const SCHEMAS: &[&str] = &[
    "platform",
    "auth",
    "catalog",
    "inventory",
    "sales",
    "kitchen",
    "customer",
    "analytics",
    "events",
    "audit",
];

async fn grant_app_role(client: &tokio_postgres::Client, app_role: &str) -> Result<(), Error> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&app_role])
        .await?
        .is_some();
    if !exists {
        return Err(Error::internal(std::io::Error::other(format!(
            "app role {app_role:?} does not exist; create it (LOGIN, NOBYPASSRLS) before migrating"
        ))));
    }
    let role = quote_ident(app_role);
    let mut sql = String::new();
    for schema in SCHEMAS {
        let schema_exists = client
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema])
            .await?
            .is_some();
        if !schema_exists {
            continue;
        }
        let s = quote_ident(schema);
        sql.push_str(&format!(
            "GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {role};
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {role};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {role};
             "
        ));
    }
    client.batch_execute(&sql).await?;
    Ok(())
}

/// Quotes an SQL identifier (role and schema names cannot be bind parameters).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_both_forms() {
        assert_eq!(
            redact("postgres://app:s3cret@127.0.0.1:5432/olympus"),
            "postgres://app:***@127.0.0.1:5432/olympus"
        );
        assert_eq!(
            redact("host=/cloudsql/p:r:i user=app password=s3cret dbname=o"),
            "host=/cloudsql/p:r:i user=app password=*** dbname=o"
        );
    }

    #[test]
    fn unix_socket_hosts_are_accepted() {
        let pool = pool("host=/cloudsql/proj:region:inst user=app dbname=olympus", 2);
        assert!(pool.is_ok());
    }

    #[test]
    fn malformed_url_names_the_variable_without_the_password() {
        let err = pool("postgres://app:s3cret@host:notaport/db", 2).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
