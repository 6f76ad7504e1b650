//! The drivers the end-to-end tests run on. Each connects for the runtime
//! the test runs on, as an application on that runtime would; each comes
//! twice, straight to PostgreSQL and through PgBouncer in transaction
//! pooling mode (`MQ_PGBOUNCER_URL`, which the test script sets), where
//! mq's calls take their handles wrapped in `mq::TransactionPooled` and
//! runners LISTEN on a direct connection.

use deadpool_postgres::{Manager, ManagerConfig, Pool};
use mq::{
    AsyncStdConnect, Checkpoint, CurrentJob, JobBuilder, SqlxBackend, TokioPostgresBackend,
    TransactionPooled, Uuid,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio_postgres::NoTls;

use std::convert::identity;
use std::time::Duration;

use crate::support::{Driver, Runtime, TxPlan, rt};

/// `url` (a test database on the server), through the PgBouncer at
/// `MQ_PGBOUNCER_URL`.
fn through_pgbouncer(url: &str) -> String {
    let options: PgConnectOptions = url.parse().expect("a valid database URL");
    mq_test_db::pgbouncer_url(options.get_database().expect("a database name"))
}

/// What a sqlx application holds: its pool, and the backend a runner is
/// built on when it is not the pool itself.
#[derive(Clone)]
pub struct SqlxPool {
    pool: PgPool,
    backend: SqlxBackend,
}

async fn sqlx_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(20)
        .connect(url)
        .await
        .expect("connect to the test database")
}

async fn sqlx_direct(url: &str) -> SqlxPool {
    let pool = sqlx_pool(url).await;
    SqlxPool {
        backend: SqlxBackend::new(pool.clone()),
        pool,
    }
}

async fn sqlx_through_pgbouncer(url: &str) -> SqlxPool {
    let pool = sqlx_pool(&through_pgbouncer(url)).await;
    let direct: PgConnectOptions = url.parse().expect("a valid database URL");
    SqlxPool {
        backend: SqlxBackend::new(pool.clone())
            .transaction_pooled()
            .listen_with(direct),
        pool,
    }
}

/// A sqlx driver: connected by `$connect`, its handles given to mq through
/// `$wrap`, its runners built on `&pool.$source`. sqlx picks its runtime
/// (tokio inside a tokio runtime, async-std otherwise) by itself.
macro_rules! sqlx_driver {
    ($(#[$doc:meta])* $driver:ident, $connect:path, $wrap:path, $source:ident) => {
        $(#[$doc])*
        pub struct $driver;

        impl Driver for $driver {
            type Marker = mq_sqlx::Sqlx;
            type SourceMarker = mq::DefaultRuntime;
            type Pool = SqlxPool;

            async fn connect(url: &str) -> SqlxPool {
                $connect(url).await
            }

            fn executor(pool: &SqlxPool) -> impl mq::Executor<Self::Marker> + '_ {
                $wrap(&pool.pool)
            }

            fn source(pool: &SqlxPool) -> impl mq::IntoBackend<Self::SourceMarker> + '_ {
                &pool.$source
            }

            async fn exec(pool: &SqlxPool, sql: &'static str) {
                sqlx::raw_sql(sql).execute(&pool.pool).await.expect(sql);
            }

            async fn count(pool: &SqlxPool, sql: &'static str) -> i64 {
                // Unprepared: a prepared statement may not outlive its
                // transaction through PgBouncer.
                let row = sqlx::raw_sql(sql).fetch_one(&pool.pool).await.expect(sql);
                row.get(0)
            }

            async fn spawn_with(pool: &SqlxPool, job: &JobBuilder, plan: TxPlan) -> Uuid {
                let mut tx = pool.pool.begin().await.unwrap();
                if let Some(sql) = plan.first {
                    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
                }
                let id = job.spawn($wrap(&mut *tx)).await.unwrap();
                if let Some((spawned, hold)) = plan.hold {
                    let _ = spawned.send(id);
                    let _ = hold.await;
                }
                if plan.commit {
                    tx.commit().await.unwrap();
                } else {
                    tx.rollback().await.unwrap();
                }
                id
            }

            async fn hold_in_transaction(
                pool: &SqlxPool,
                job: &mut CurrentJob,
                checkpoint: bool,
                hold: Duration,
            ) -> mq::Result<()> {
                let mut tx = pool.pool.begin().await.unwrap();
                if checkpoint {
                    let mut state = Checkpoint::new();
                    state.set_extra_retries(1);
                    job.checkpoint_with_transaction($wrap(&mut *tx), &state)
                        .await?;
                } else {
                    job.complete_with_transaction($wrap(&mut *tx)).await?;
                }
                rt::sleep(hold).await;
                tx.commit().await.unwrap();
                Ok(())
            }

            async fn complete_in_transaction(
                pool: &SqlxPool,
                job: &mut CurrentJob,
                sql: &'static str,
                commit: bool,
            ) -> mq::Result<()> {
                let mut tx = pool.pool.begin().await.unwrap();
                sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
                if commit {
                    // An owned transaction is committed by the call.
                    job.complete_with_transaction($wrap(tx)).await
                } else {
                    job.complete_with_transaction($wrap(&mut *tx)).await?;
                    tx.rollback().await.unwrap();
                    Ok(())
                }
            }

            async fn snooze_in_transaction(
                pool: &SqlxPool,
                job: &mut CurrentJob,
                delay: Duration,
            ) -> mq::Result<()> {
                let tx = pool.pool.begin().await.unwrap();
                job.snooze_with_transaction($wrap(tx), delay).await
            }
        }
    };
}

sqlx_driver!(
    /// sqlx straight to PostgreSQL; runners built on `&pool`.
    SqlxDriver,
    sqlx_direct,
    identity,
    pool
);
sqlx_driver!(
    /// sqlx through PgBouncer in transaction pooling mode.
    SqlxPgBouncerDriver,
    sqlx_through_pgbouncer,
    TransactionPooled,
    backend
);

/// What a tokio-postgres application holds: its deadpool pool, and the
/// backend its runners are built on (given the config to LISTEN with).
#[derive(Clone)]
pub struct TokioPostgresPool {
    pool: Pool,
    backend: TokioPostgresBackend,
}

/// A deadpool pool connected to `url`: on tokio with deadpool's own
/// connect, on async-std with `mq::AsyncStdConnect`.
fn deadpool(url: &str) -> Pool {
    let config: tokio_postgres::Config = url.parse().expect("a valid database URL");
    let manager = match Runtime::current() {
        Runtime::Tokio => Manager::new(config, NoTls),
        Runtime::AsyncStd => {
            Manager::from_connect(config, AsyncStdConnect::new(), ManagerConfig::default())
        }
    };
    Pool::builder(manager)
        .max_size(20)
        .build()
        .expect("build the pool")
}

async fn tokio_postgres_direct(url: &str) -> TokioPostgresPool {
    let pool = deadpool(url);
    let config = url.parse().expect("a valid database URL");
    TokioPostgresPool {
        backend: TokioPostgresBackend::new(pool.clone(), config),
        pool,
    }
}

async fn tokio_postgres_through_pgbouncer(url: &str) -> TokioPostgresPool {
    let pool = deadpool(&through_pgbouncer(url));
    let direct = url.parse().expect("a valid database URL");
    TokioPostgresPool {
        backend: TokioPostgresBackend::new(pool.clone(), direct).transaction_pooled(),
        pool,
    }
}

/// A tokio-postgres driver pooled by deadpool: connected by `$connect`,
/// its handles given to mq through `$wrap`.
macro_rules! tokio_postgres_driver {
    ($(#[$doc:meta])* $driver:ident, $connect:path, $wrap:path) => {
        $(#[$doc])*
        pub struct $driver;

        impl Driver for $driver {
            type Marker = mq_tokio_postgres::TokioPostgres;
            type SourceMarker = mq::DefaultRuntime;
            type Pool = TokioPostgresPool;

            async fn connect(url: &str) -> TokioPostgresPool {
                $connect(url).await
            }

            fn executor(pool: &TokioPostgresPool) -> impl mq::Executor<Self::Marker> + '_ {
                $wrap(&pool.pool)
            }

            fn source(pool: &TokioPostgresPool) -> impl mq::IntoBackend<Self::SourceMarker> + '_ {
                &pool.backend
            }

            async fn exec(pool: &TokioPostgresPool, sql: &'static str) {
                let client = pool.pool.get().await.expect("a connection");
                client.batch_execute(sql).await.expect(sql);
            }

            async fn count(pool: &TokioPostgresPool, sql: &'static str) -> i64 {
                // Unprepared: a prepared statement may not outlive its
                // transaction through PgBouncer.
                let client = pool.pool.get().await.expect("a connection");
                let rows = client.simple_query(sql).await.expect(sql);
                let row = rows.iter().find_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(row),
                    _ => None,
                });
                let text = row.and_then(|row| row.get(0)).expect("one value");
                text.parse().expect("a bigint")
            }

            async fn spawn_with(pool: &TokioPostgresPool, job: &JobBuilder, plan: TxPlan) -> Uuid {
                let mut client = pool.pool.get().await.unwrap();
                // tokio-postgres's own transaction (deadpool's wrapper is the
                // one complete_in_transaction uses).
                let tx = tokio_postgres::Client::transaction(&mut client)
                    .await
                    .unwrap();
                if let Some(sql) = plan.first {
                    tx.batch_execute(sql).await.unwrap();
                }
                let id = job.spawn($wrap(&tx)).await.unwrap();
                if let Some((spawned, hold)) = plan.hold {
                    let _ = spawned.send(id);
                    let _ = hold.await;
                }
                if plan.commit {
                    tx.commit().await.unwrap();
                } else {
                    tx.rollback().await.unwrap();
                }
                id
            }

            async fn hold_in_transaction(
                pool: &TokioPostgresPool,
                job: &mut CurrentJob,
                checkpoint: bool,
                hold: Duration,
            ) -> mq::Result<()> {
                let mut client = pool.pool.get().await.unwrap();
                let tx = client.transaction().await.unwrap();
                if checkpoint {
                    let mut state = Checkpoint::new();
                    state.set_extra_retries(1);
                    job.checkpoint_with_transaction($wrap(&tx), &state).await?;
                } else {
                    job.complete_with_transaction($wrap(&tx)).await?;
                }
                rt::sleep(hold).await;
                tx.commit().await.unwrap();
                Ok(())
            }

            async fn complete_in_transaction(
                pool: &TokioPostgresPool,
                job: &mut CurrentJob,
                sql: &'static str,
                commit: bool,
            ) -> mq::Result<()> {
                let mut client = pool.pool.get().await.unwrap();
                let tx = client.transaction().await.unwrap();
                tx.batch_execute(sql).await.unwrap();
                if commit {
                    // An owned transaction is committed by the call.
                    job.complete_with_transaction($wrap(tx)).await
                } else {
                    job.complete_with_transaction($wrap(&tx)).await?;
                    tx.rollback().await.unwrap();
                    Ok(())
                }
            }

            async fn snooze_in_transaction(
                pool: &TokioPostgresPool,
                job: &mut CurrentJob,
                delay: Duration,
            ) -> mq::Result<()> {
                let mut client = pool.pool.get().await.unwrap();
                let tx = client.transaction().await.unwrap();
                job.snooze_with_transaction($wrap(tx), delay).await
            }
        }
    };
}

tokio_postgres_driver!(
    /// tokio-postgres straight to PostgreSQL.
    TokioPostgresDriver,
    tokio_postgres_direct,
    identity
);
tokio_postgres_driver!(
    /// tokio-postgres through PgBouncer in transaction pooling mode.
    TokioPostgresPgBouncerDriver,
    tokio_postgres_through_pgbouncer,
    TransactionPooled
);
