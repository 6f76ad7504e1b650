//! The backend conformance suite against PostgreSQL through sqlx, on each
//! runtime this crate is built for.

use mq_core::Backend;
use mq_sqlx::SqlxBackend;
use mq_test_db::TestDb;
use sqlx::postgres::PgPoolOptions;

async fn backend() -> (TestDb, SqlxBackend) {
    let db = TestDb::create();
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(db.url())
        .await
        .expect("connect to the test database");
    let backend = SqlxBackend::new(pool);
    backend
        .migrate(mq_core::backend::MigrateParams::default())
        .await
        .expect("migrate");
    (db, backend)
}

#[cfg(feature = "runtime-tokio")]
mod on_tokio {
    use super::backend;
    mq_core::conformance_tests!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
        backend,
        std::sync::Arc::new(mq_runtime_tokio::TokioSpawner::new())
    );
}

/// Built for both runtimes, the backend created outside tokio runs on
/// async-std.
#[cfg(feature = "runtime-async-std")]
mod on_async_std {
    use super::backend;
    mq_core::conformance_tests!(
        #[async_std::test],
        backend,
        std::sync::Arc::new(mq_runtime_async_std::AsyncStdSpawner::new())
    );
}
