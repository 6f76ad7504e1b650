//! [`SqlxBackend`]: the runner's backend over a `PgPool`.

use async_trait::async_trait;
use futures::stream::BoxStream;
use mq_core::Result;
use mq_core::backend::{ListenParams, Wakeup};
use mq_sql::{Connection, Database, queries};
use sqlx::PgPool;

use crate::connection::SqlxConnection;
use crate::error::at;
use crate::listen;

/// The sqlx driver's [`Backend`](mq_core::Backend): every call takes a
/// connection from the pool for one statement, and wake-ups come from
/// `LISTEN` on a connection of its own.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use mq_core::BackendExt;
/// use mq_sqlx::SqlxBackend;
///
/// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// let backend = SqlxBackend::new(pool);
/// let state = backend.job_state(mq_core::Uuid::nil()).await?;
/// assert_eq!(state, None);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqlxBackend {
    pool: PgPool,
}

impl std::fmt::Debug for SqlxBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlxBackend")
            .field("pool", &self.pool)
            .finish()
    }
}

impl SqlxBackend {
    /// A backend on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Database for SqlxBackend {
    async fn connection(&self, operation: &'static str) -> Result<Box<dyn Connection + '_>> {
        let conn = self.pool.acquire().await.map_err(at(operation))?;
        Ok(Box::new(SqlxConnection::pooled(conn)))
    }

    async fn migrate(&self) -> Result<()> {
        // sqlx rolls the transaction back if this is dropped half-way.
        let conn = self.pool.acquire().await.map_err(at("migrate"))?;
        queries::migrate(&mut SqlxConnection::pooled(conn)).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        listen::listen(&self.pool, params.spawner.clone()).await
    }
}

mq_sql::sql_backend!(SqlxBackend);
