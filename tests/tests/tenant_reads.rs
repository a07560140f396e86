//! `olympus::db::tenant_read`, the one-round-trip read path: it sees only the tenant's rows,
//! and the pooled connection comes back outside any transaction and without the tenant
//! setting, after a success as after a failed query.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use olympus::db;
use olympus::testing::TestDb;
use uuid::Uuid;

#[tokio::test]
async fn tenant_reads_are_scoped_and_leave_the_connection_clean() {
    let test_db = TestDb::create().await;
    let admin = TestDb::connect(&test_db.admin_url).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for (tenant, slug) in [(a, "read-a"), (b, "read-b")] {
        admin
            .execute(
                "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, $2, $2)",
                &[&tenant, &slug],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO catalog.categories (id, tenant_id, name) VALUES ($1, $2, $3)",
                &[&Uuid::now_v7(), &tenant, &format!("Category of {slug}")],
            )
            .await
            .unwrap();
    }
    // One connection, so every call below reuses the same session.
    let pool = olympus::db::pool(&test_db.app_url, 1).unwrap();
    let client = pool.get().await.unwrap();
    let names = db::tenant_read(
        &client,
        a,
        &[
            ("SELECT name FROM catalog.categories ORDER BY name", &[]),
            ("SELECT count(*) FROM platform.tenants", &[]),
        ],
    )
    .await
    .unwrap();
    let names: Vec<String> = names[0].iter().map(|row| row.get(0)).collect();
    assert_eq!(names, vec!["Category of read-a".to_owned()]);

    let state = client
        .query_one(
            "SELECT current_setting('app.tenant_id', true), current_setting('transaction_read_only'),
                    (SELECT count(*) FROM catalog.categories)",
            &[],
        )
        .await
        .unwrap();
    assert!(
        state
            .get::<_, Option<String>>(0)
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(
        state.get::<_, String>(1),
        "off",
        "left inside the read-only transaction"
    );
    assert_eq!(state.get::<_, i64>(2), 0, "no tenant: RLS shows nothing");

    let failed = db::tenant_read(&client, b, &[("SELECT 1 / 0", &[])]).await;
    assert!(failed.is_err());
    let after = db::tenant_read(&client, b, &[("SELECT name FROM catalog.categories", &[])])
        .await
        .unwrap();
    assert_eq!(after[0][0].get::<_, String>(0), "Category of read-b");
    let outside: String = client
        .query_one("SELECT current_setting('transaction_read_only')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(outside, "off");
}
