//! Tenant isolation in the database: the app role cannot bypass row-level security, a query
//! without tenant context sees nothing, tenant A never sees (or writes) tenant B's rows, a
//! pooled connection keeps no tenant after its transaction, and every tenant table has the
//! policy shape of DESIGN.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use olympus::db;
use olympus::testing::TestDb;
use uuid::Uuid;

async fn insert_tenant(pool: &db::Pool, id: Uuid, slug: &str) {
    let mut client = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut client, id).await.unwrap();
    tx.execute(
        "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, $2, $2)",
        &[&id, &slug],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn tenant_context_isolates_rows_and_no_context_sees_nothing() {
    let test_db = TestDb::create().await;
    let pool = test_db.app_pool();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    insert_tenant(&pool, a, "tenant-a").await;
    insert_tenant(&pool, b, "tenant-b").await;

    let mut client = pool.get().await.unwrap();
    // No tenant: nothing, not an error and not everything.
    let count: i64 = client
        .query_one("SELECT count(*) FROM platform.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);

    // Tenant A sees only A, even when asking for B by id.
    let tx = db::tenant_tx(&mut client, a).await.unwrap();
    let ids: Vec<Uuid> = tx
        .query("SELECT id FROM platform.tenants", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![a]);
    let b_row = tx
        .query_opt("SELECT id FROM platform.tenants WHERE id = $1", &[&b])
        .await
        .unwrap();
    assert!(b_row.is_none());
    // ...cannot update or delete B (zero rows), and cannot write a row for B.
    let updated = tx
        .execute(
            "UPDATE platform.tenants SET name = 'x' WHERE id = $1",
            &[&b],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0);
    tx.commit().await.unwrap();

    let tx = db::tenant_tx(&mut client, a).await.unwrap();
    let err = tx
        .execute(
            "INSERT INTO platform.idempotency_keys (tenant_id, scope, key, request_hash, state)
             VALUES ($1, 's', 'k', '\\x00', 'running')",
            &[&b],
        )
        .await
        .expect_err("writing another tenant's row must fail");
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("row-level security"), "{message}");
    drop(tx);

    // The same pooled connection after the transaction: no tenant left behind.
    let count: i64 = client
        .query_one("SELECT count(*) FROM platform.tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
    let setting: Option<String> = client
        .query_one("SELECT current_setting('app.tenant_id', true)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(setting.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn the_app_role_owns_nothing_and_cannot_bypass_rls() {
    let test_db = TestDb::create().await;
    let client = TestDb::connect(&test_db.app_url).await;
    let row = client
        .query_one(
            "SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0), "app role must not have BYPASSRLS");
    assert!(!row.get::<_, bool>(1), "app role must not be a superuser");
    let owned: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
             WHERE r.rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0, "app role must own no relation");
    // Nor can it switch RLS off.
    let err = client
        .batch_execute("ALTER TABLE platform.tenants DISABLE ROW LEVEL SECURITY")
        .await
        .expect_err("only the owner may alter a table");
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("owner"), "{message}");
}

/// Guards every later migration: any table with a `tenant_id` column (outside the `events`
/// infrastructure schema) must have RLS enabled and forced and the tenant policy.
#[tokio::test]
async fn every_tenant_table_has_the_policy_shape() {
    let test_db = TestDb::create().await;
    let client = TestDb::connect(&test_db.owner_url).await;
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
                    EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                            AND p.polname = 'tenant_isolation')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'events', 'public')
               -- Directories (slug, device id, key prefix -> tenant id) are read before any
               -- tenant is known; they hold nothing but the lookup key and the tenant id.
               AND c.relname NOT LIKE '%\\_directory' ESCAPE '\\'
               AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                            AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                    OR c.oid = 'platform.tenants'::regclass)",
            &[],
        )
        .await
        .unwrap();
    assert!(
        rows.len() >= 2,
        "expected tenant tables, found {}",
        rows.len()
    );
    for row in rows {
        let table: String = row.get(0);
        assert!(row.get::<_, bool>(1), "{table}: RLS not enabled");
        assert!(row.get::<_, bool>(2), "{table}: RLS not forced");
        assert!(row.get::<_, bool>(3), "{table}: no tenant_isolation policy");
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_report_nothing_new_on_a_second_run() {
    let test_db = TestDb::create().await;
    let mut owner = TestDb::connect(&test_db.owner_url).await;
    let report = db::migrate(&mut owner, "olympus_app").await.unwrap();
    assert!(
        report.applied.is_empty(),
        "template was already migrated: {:?}",
        report.applied
    );
    let missing = db::migrate(&mut owner, "no_such_role").await.unwrap_err();
    assert!(missing.to_string().contains("no_such_role"), "{missing}");
}

#[tokio::test]
async fn constraint_violations_become_client_errors_naming_the_constraint() {
    let test_db = TestDb::create().await;
    let pool = test_db.app_pool();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    insert_tenant(&pool, a, "same-slug").await;
    let mut client = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut client, b).await.unwrap();
    let duplicate = tx
        .execute(
            "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, 'same-slug', 'B')",
            &[&b],
        )
        .await
        .unwrap_err();
    let err = olympus::Error::from(duplicate);
    assert_eq!(err.status().as_u16(), 409);
    assert_eq!(err.code(), "already_exists");
    assert_eq!(err.problem().extensions["constraint"], "tenants_slug_key");
    drop(tx);

    let tx = db::tenant_tx(&mut client, b).await.unwrap();
    let bad_slug = tx
        .execute(
            "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, 'Not A Slug', 'B')",
            &[&b],
        )
        .await
        .unwrap_err();
    let err = olympus::Error::from(bad_slug);
    assert_eq!(err.status().as_u16(), 422);
    assert_eq!(err.code(), "constraint_violation");
}

/// Cloud SQL is reached through a Unix socket directory (`host=/cloudsql/...`): the same form
/// against the test cluster's socket directory.
#[tokio::test]
async fn pools_connect_through_unix_sockets() {
    let Ok(socket_dir) = std::env::var("OLYMPUS_TEST_SOCKET_DIR") else {
        panic!("OLYMPUS_TEST_SOCKET_DIR is not set: run with `make test`");
    };
    let test_db = TestDb::create().await;
    let port = std::env::var("OLYMPUS_TEST_PORT").unwrap();
    let url = format!(
        "host={socket_dir} port={port} user=olympus_app password=olympus-app-local dbname={}",
        test_db.name
    );
    let pool = db::pool(&url, 1).unwrap();
    let client = pool.get().await.unwrap();
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "olympus_app");
}
