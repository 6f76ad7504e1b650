//! Migrations: concurrent, idempotent, and refusing a newer schema.

use mq::Error;
use mq_test_db::TestDb;

use crate::support::{Db, Driver};

/// Eight processes' worth of pools migrating one empty database at once
/// all succeed, and the schema is applied once.
pub async fn concurrent_migrations_apply_once<D: Driver>(_db: &Db<D>) {
    let fresh = TestDb::create();
    let mut pools = Vec::new();
    for _ in 0..8 {
        pools.push(D::connect(fresh.url()).await);
    }
    let results =
        futures::future::join_all(pools.iter().map(|pool| mq::migrate(D::executor(pool)))).await;
    for result in results {
        result.expect("a concurrent migration failed");
    }
    // Every migration once: versions 1, 2... with no gap and no repeat.
    const EACH_ONCE: &str = "SELECT count(*) FROM (SELECT max(version) AS v FROM mq_migrations) latest \
         WHERE (SELECT count(*) FROM mq_migrations) = latest.v \
           AND (SELECT count(DISTINCT version) FROM mq_migrations) = latest.v";
    assert_eq!(D::count(&pools[0], EACH_ONCE).await, 1);
    assert!(D::count(&pools[0], "SELECT count(*) FROM mq_migrations").await >= 2);
    // And again: nothing to do.
    mq::migrate(D::executor(&pools[0])).await.unwrap();
    assert_eq!(D::count(&pools[0], EACH_ONCE).await, 1);
}

/// A database migrated by a newer mq is refused with a clear error.
pub async fn newer_schema_is_refused<D: Driver>(db: &Db<D>) {
    db.exec("INSERT INTO mq_migrations (version, name) VALUES (999, 'from the future')")
        .await;
    match mq::migrate(db.ex()).await {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 999);
            assert!(supported < 999);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}
