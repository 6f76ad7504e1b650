//! [`SqlxBackend`]: the runner's backend over a `PgPool`.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use mq_core::Result;
use mq_core::backend::{ListenParams, Wakeup};
use mq_sql::{Connection, Database, Pooling, queries};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::connection::SqlxConnection;
use crate::error::at;
use crate::listen;

/// The sqlx driver's [`Backend`](mq_core::Backend): every call takes a
/// connection from the pool for one statement, and wake-ups come from
/// `LISTEN` on a connection of its own.
///
/// ```no_run
/// # use mq_core::{BackendExt, Uuid};
/// # use mq_sqlx::SqlxBackend;
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// let backend = SqlxBackend::new(pool);
/// let state = backend.job_state(Uuid::nil()).await?; // BackendExt
/// assert_eq!(state, None);
/// # Ok(())
/// # }
/// ```
///
/// Through PgBouncer in transaction pooling mode (or another proxy that
/// hands a server connection to another client after each transaction),
/// say so with [`transaction_pooled`](Self::transaction_pooled), and give
/// runners a direct connection to LISTEN on with
/// [`listen_with`](Self::listen_with), or let them poll:
///
/// ```no_run
/// # use mq_sqlx::SqlxBackend;
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Port 6432: PgBouncer; port 5432: PostgreSQL itself.
/// let pool = sqlx::PgPool::connect("postgres://app@db:6432/app").await?;
/// let direct = "postgres://app@db:5432/app".parse()?;
/// let backend = SqlxBackend::new(pool)
///     .transaction_pooled()
///     .listen_with(direct);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqlxBackend {
    pool: PgPool,
    pooling: Pooling,
    listen: ListenOn,
}

/// Where runners on a [`SqlxBackend`] LISTEN for wake-ups.
#[derive(Clone, Debug)]
enum ListenOn {
    /// A connection of their own, opened with the pool's options.
    PoolOptions,
    /// A connection of their own, opened with these options.
    Options(Box<PgConnectOptions>),
    /// Nowhere: they poll.
    Nowhere,
}

impl std::fmt::Debug for SqlxBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlxBackend")
            .field("pool", &self.pool)
            .field("pooling", &self.pooling)
            .field("listen", &self.listen)
            .finish()
    }
}

impl SqlxBackend {
    /// A backend on `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            pooling: Pooling::Session,
            listen: ListenOn::PoolOptions,
        }
    }

    /// The pool's connections go through a proxy in transaction pooling
    /// mode (PgBouncer's `pool_mode = transaction`): mq's statements are
    /// then unnamed, each in a transaction of its own, and no setting or
    /// session lock outlives a statement. `LISTEN` cannot work through
    /// such a proxy, so runners poll (every
    /// [`poll_interval`](mq_core::JobRunnerOptions::set_poll_interval))
    /// unless [`listen_with`](Self::listen_with) gives them a direct
    /// connection. Spawn and administer through this backend
    /// (`job.spawn(&backend)`), or wrap your own handles in
    /// [`TransactionPooled`](mq_sql::TransactionPooled).
    pub fn transaction_pooled(mut self) -> Self {
        self.pooling = Pooling::Transaction;
        if let ListenOn::PoolOptions = self.listen {
            self.listen = ListenOn::Nowhere;
        }
        self
    }

    /// Runners LISTEN for wake-ups on a connection of their own opened
    /// with `options` (normally straight to PostgreSQL, past any pooler),
    /// rather than with the pool's options.
    pub fn listen_with(mut self, options: PgConnectOptions) -> Self {
        self.listen = ListenOn::Options(Box::new(options));
        self
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
        Ok(Box::new(
            SqlxConnection::pooled(conn).with_pooling(self.pooling),
        ))
    }

    async fn migrate(&self) -> Result<()> {
        // sqlx rolls the transaction back if this is dropped half-way.
        let conn = self.pool.acquire().await.map_err(at("migrate"))?;
        queries::migrate(&mut SqlxConnection::pooled(conn).with_pooling(self.pooling)).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        let options = match &self.listen {
            ListenOn::PoolOptions => (*self.pool.connect_options()).clone(),
            ListenOn::Options(options) => (**options).clone(),
            ListenOn::Nowhere => return Ok(futures::stream::pending().boxed()),
        };
        listen::listen(options, params.spawner.clone()).await
    }
}

mq_sql::sql_backend!(SqlxBackend);
