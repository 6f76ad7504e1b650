//! The drivers the end-to-end tests run on.

use mq::{CurrentJob, JobBuilder, Uuid};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::support::Driver;

/// sqlx on tokio.
pub struct SqlxDriver;

impl Driver for SqlxDriver {
    type Marker = mq_sqlx::Sqlx;
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

    fn source(pool: &PgPool) -> impl mq::IntoBackend<Self::Marker> + '_ {
        pool
    }

    async fn exec(pool: &PgPool, sql: &'static str) {
        sqlx::raw_sql(sql).execute(pool).await.expect(sql);
    }

    async fn count(pool: &PgPool, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    }

    async fn spawn_in_transaction(pool: &PgPool, job: &JobBuilder, commit: bool) -> Uuid {
        let mut tx = pool.begin().await.unwrap();
        let id = job.spawn(&mut *tx).await.unwrap();
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        id
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
