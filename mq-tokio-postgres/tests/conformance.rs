//! The backend conformance suite against PostgreSQL through tokio-postgres.

use deadpool_postgres::{Manager, Pool};
use mq_core::Backend;
use mq_test_db::TestDb;
use mq_tokio_postgres::TokioPostgresBackend;
use tokio_postgres::NoTls;

async fn backend() -> (TestDb, TokioPostgresBackend) {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().expect("a valid database URL");
    let pool = Pool::builder(Manager::new(config.clone(), NoTls))
        .max_size(10)
        .build()
        .expect("build the pool");
    let backend = TokioPostgresBackend::new(pool, config);
    backend.migrate().await.expect("migrate");
    (db, backend)
}

mq_core::conformance_tests!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)], backend);
