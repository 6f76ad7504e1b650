//! The drivers the end-to-end tests run on. Each connects for the runtime
//! the test runs on, as an application on that runtime would.

use deadpool_postgres::{Manager, ManagerConfig, Pool};
use mq::{AsyncStdConnect, Checkpoint, CurrentJob, JobBuilder, TokioPostgresBackend, Uuid};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_postgres::NoTls;

use std::time::Duration;

use crate::support::{Driver, Runtime, TxPlan, rt};

/// sqlx, which picks its runtime (tokio inside a tokio runtime, async-std
/// otherwise) by itself.
pub struct SqlxDriver;

impl Driver for SqlxDriver {
    type Marker = mq_sqlx::Sqlx;
    type SourceMarker = mq::DefaultRuntime;
    type Pool = PgPool;

    async fn connect(url: &str) -> PgPool {
        PgPoolOptions::new()
            .max_connections(20)
            .connect(url)
            .await
            .expect("connect to the test database")
    }

    fn executor(pool: &PgPool) -> impl mq::Executor<Self::Marker> + '_ {
        pool
    }

    fn source(pool: &PgPool) -> impl mq::IntoBackend<Self::SourceMarker> + '_ {
        pool
    }

    async fn exec(pool: &PgPool, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect(sql);
    }

    async fn count(pool: &PgPool, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    }

    async fn spawn_with(pool: &PgPool, job: &JobBuilder, plan: TxPlan) -> Uuid {
        let mut tx = pool.begin().await.unwrap();
        if let Some(sql) = plan.first {
            sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
        }
        let id = job.spawn(&mut *tx).await.unwrap();
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
        pool: &PgPool,
        job: &mut CurrentJob,
        checkpoint: bool,
        hold: Duration,
    ) -> mq::Result<()> {
        let mut tx = pool.begin().await.unwrap();
        if checkpoint {
            let mut state = Checkpoint::new();
            state.set_extra_retries(1);
            job.checkpoint_with_transaction(&mut *tx, &state).await?;
        } else {
            job.complete_with_transaction(&mut *tx).await?;
        }
        rt::sleep(hold).await;
        tx.commit().await.unwrap();
        Ok(())
    }

    async fn complete_in_transaction(
        pool: &PgPool,
        job: &mut CurrentJob,
        sql: &'static str,
        commit: bool,
    ) -> mq::Result<()> {
        let mut tx = pool.begin().await.unwrap();
        sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
        if commit {
            // An owned transaction is committed by the call.
            job.complete_with_transaction(tx).await
        } else {
            job.complete_with_transaction(&mut *tx).await?;
            tx.rollback().await.unwrap();
            Ok(())
        }
    }
}

/// tokio-postgres pooled by deadpool: on tokio with deadpool's own
/// connect, on async-std with `mq::AsyncStdConnect`.
pub struct TokioPostgresDriver;

/// What a tokio-postgres application holds: its deadpool pool, and the
/// backend its runners are built on (given the pool's config, for LISTEN).
#[derive(Clone)]
pub struct TokioPostgresPool {
    pool: Pool,
    backend: TokioPostgresBackend,
}

impl Driver for TokioPostgresDriver {
    type Marker = mq_tokio_postgres::TokioPostgres;
    type SourceMarker = mq::DefaultRuntime;
    type Pool = TokioPostgresPool;

    async fn connect(url: &str) -> TokioPostgresPool {
        let config: tokio_postgres::Config = url.parse().expect("a valid database URL");
        let manager = match Runtime::current() {
            Runtime::Tokio => Manager::new(config.clone(), NoTls),
            Runtime::AsyncStd => Manager::from_connect(
                config.clone(),
                AsyncStdConnect::new(),
                ManagerConfig::default(),
            ),
        };
        let pool = Pool::builder(manager)
            .max_size(20)
            .build()
            .expect("build the pool");
        TokioPostgresPool {
            backend: TokioPostgresBackend::new(pool.clone(), config),
            pool,
        }
    }

    fn executor(pool: &TokioPostgresPool) -> impl mq::Executor<Self::Marker> + '_ {
        &pool.pool
    }

    fn source(pool: &TokioPostgresPool) -> impl mq::IntoBackend<Self::SourceMarker> + '_ {
        &pool.backend
    }

    async fn exec(pool: &TokioPostgresPool, sql: &'static str) {
        let client = pool.pool.get().await.expect("a connection");
        client.batch_execute(sql).await.expect(sql);
    }

    async fn count(pool: &TokioPostgresPool, sql: &'static str) -> i64 {
        let client = pool.pool.get().await.expect("a connection");
        client.query_one(sql, &[]).await.expect(sql).get(0)
    }

    async fn spawn_with(pool: &TokioPostgresPool, job: &JobBuilder, plan: TxPlan) -> Uuid {
        let mut client = pool.pool.get().await.unwrap();
        // tokio-postgres's own transaction (deadpool's wrapper is the one
        // complete_in_transaction uses).
        let tx = tokio_postgres::Client::transaction(&mut client)
            .await
            .unwrap();
        if let Some(sql) = plan.first {
            tx.batch_execute(sql).await.unwrap();
        }
        let id = job.spawn(&tx).await.unwrap();
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
            job.checkpoint_with_transaction(&tx, &state).await?;
        } else {
            job.complete_with_transaction(&tx).await?;
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
            job.complete_with_transaction(tx).await
        } else {
            job.complete_with_transaction(&tx).await?;
            tx.rollback().await.unwrap();
            Ok(())
        }
    }
}
