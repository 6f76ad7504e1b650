//! The backend conformance suite against PostgreSQL through tokio-postgres,
//! on each runtime this crate is built for.
#![cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]

use deadpool_postgres::{Manager, Pool};
use mq_core::Backend;
use mq_test_db::TestDb;
use mq_tokio_postgres::TokioPostgresBackend;

/// A backend on a fresh database, its pool's connections made by `manager`.
async fn backend(manager: fn(tokio_postgres::Config) -> Manager) -> (TestDb, TokioPostgresBackend) {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().expect("a valid database URL");
    let pool = Pool::builder(manager(config.clone()))
        .max_size(10)
        .build()
        .expect("build the pool");
    let backend = TokioPostgresBackend::new(pool, config);
    backend
        .migrate(mq_core::backend::MigrateParams::default())
        .await
        .expect("migrate");
    (db, backend)
}

#[cfg(feature = "runtime-tokio")]
mod on_tokio {
    use deadpool_postgres::Manager;
    use tokio_postgres::NoTls;

    async fn backend() -> (mq_test_db::TestDb, mq_tokio_postgres::TokioPostgresBackend) {
        super::backend(|config| Manager::new(config, NoTls)).await
    }

    mq_core::conformance_tests!(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
        backend,
        std::sync::Arc::new(mq_runtime_tokio::TokioSpawner::new())
    );
}

/// The pool connects through `AsyncStdConnect`; built for both runtimes,
/// the backend created outside tokio runs on async-std.
#[cfg(feature = "runtime-async-std")]
mod on_async_std {
    use deadpool_postgres::{Manager, ManagerConfig};
    use mq_tokio_postgres::AsyncStdConnect;

    async fn backend() -> (mq_test_db::TestDb, mq_tokio_postgres::TokioPostgresBackend) {
        super::backend(|config| {
            let spawner = std::sync::Arc::new(mq_runtime_async_std::AsyncStdSpawner::new());
            Manager::from_connect(
                config,
                AsyncStdConnect::new(spawner),
                ManagerConfig::default(),
            )
        })
        .await
    }

    mq_core::conformance_tests!(
        #[async_std::test],
        backend,
        std::sync::Arc::new(mq_runtime_async_std::AsyncStdSpawner::new())
    );
}
