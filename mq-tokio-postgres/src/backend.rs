//! [`TokioPostgresBackend`]: the runner's backend over a deadpool pool.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use futures::StreamExt;
use futures::stream::BoxStream;
use mq_core::Result;
use mq_core::backend::{ListenParams, Wakeup};
use mq_sql::{Connection, Database, Pooling, queries};

use crate::error::pool_at;
use crate::executor::{Handle, Link};
use crate::listen::{self, Connect};

/// The tokio-postgres driver's [`Backend`](mq_core::Backend): every call
/// takes a connection from a deadpool pool for one statement (prepared once
/// per connection and cached), and wake-ups come from `LISTEN` on a
/// connection of its own.
///
/// A runner is built on this backend (`registry.runner(&backend)`), the
/// transactional calls take the pool or your own connections and
/// transactions (see the [crate docs](crate)). Cloning is cheap: clones
/// share the pool.
///
/// Through PgBouncer in transaction pooling mode (or another proxy that
/// hands a server connection to another client after each transaction),
/// say so with [`transaction_pooled`](Self::transaction_pooled), and give
/// the backend a `listen_config` that reaches PostgreSQL directly, or
/// none with [`without_listen`](Self::without_listen):
///
/// ```no_run
/// # use mq_tokio_postgres::TokioPostgresBackend;
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Port 6432: PgBouncer; port 5432: PostgreSQL itself.
/// let pooled: tokio_postgres::Config = "postgres://app@db:6432/app".parse()?;
/// let direct: tokio_postgres::Config = "postgres://app@db:5432/app".parse()?;
/// let manager = deadpool_postgres::Manager::new(pooled, tokio_postgres::NoTls);
/// let pool = deadpool_postgres::Pool::builder(manager).build()?;
/// let backend = TokioPostgresBackend::new(pool, direct).transaction_pooled();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokioPostgresBackend {
    pool: Pool,
    /// Where runners LISTEN; `None`: they poll.
    connect: Option<Arc<dyn Connect>>,
    pooling: Pooling,
}

impl std::fmt::Debug for TokioPostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioPostgresBackend")
            .field("pool", &self.pool)
            .field("pooling", &self.pooling)
            .field("listens", &self.connect.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
impl TokioPostgresBackend {
    /// A backend on `pool` whose runners listen for wake-ups on a
    /// connection of their own opened with `listen_config` without TLS.
    ///
    /// `listen_config` is normally the config the pool was built with:
    /// deadpool does not give it back, so it is asked for here.
    ///
    /// The wake-up connection uses the sockets of this crate's runtime
    /// feature; built for tokio and async-std both, tokio's when this is
    /// called inside a tokio runtime and async-std's otherwise.
    pub fn new(pool: Pool, listen_config: tokio_postgres::Config) -> Self {
        Self::with_tls(pool, listen_config, tokio_postgres::NoTls)
    }

    /// Like [`new`](Self::new), with a TLS connector for the wake-up
    /// connection (the one you gave the pool, for example a
    /// `tokio_postgres_rustls::MakeRustlsConnect`).
    pub fn with_tls<T: crate::MakeTls>(
        pool: Pool,
        listen_config: tokio_postgres::Config,
        tls: T,
    ) -> Self {
        Self {
            pool,
            connect: Some(crate::connect::listen_connector(listen_config, tls)),
            pooling: Pooling::Session,
        }
    }
}

impl TokioPostgresBackend {
    /// The pool's connections go through a proxy in transaction pooling
    /// mode (PgBouncer's `pool_mode = transaction`): mq's statements are
    /// then unnamed and sent with their parameters in one exchange, and no
    /// setting or session lock outlives a statement. Runners still LISTEN
    /// with the `listen_config` given to [`new`](Self::new), which must
    /// then reach PostgreSQL directly; or see
    /// [`without_listen`](Self::without_listen). Spawn and administer
    /// through this backend (`job.spawn(&backend)`), or wrap your own
    /// handles in [`TransactionPooled`](mq_sql::TransactionPooled).
    pub fn transaction_pooled(mut self) -> Self {
        self.pooling = Pooling::Transaction;
        self
    }

    /// Runners do not LISTEN: they poll, every
    /// [`poll_interval`](mq_core::JobRunnerOptions::set_poll_interval).
    pub fn without_listen(mut self) -> Self {
        self.connect = None;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

#[async_trait]
impl Database for TokioPostgresBackend {
    async fn connection(&self, operation: &'static str) -> Result<Box<dyn Connection + '_>> {
        let client = self.pool.get().await.map_err(pool_at(operation))?;
        Ok(Box::new(
            Handle::new(Link::Pooled(client)).with_pooling(self.pooling),
        ))
    }

    /// On a pooled connection of its own, whose transaction is a
    /// `deadpool_postgres::Transaction` (see `executor::Handle`).
    async fn migrate(&self) -> Result<()> {
        let client = self.pool.get().await.map_err(pool_at("migrate"))?;
        queries::migrate(&mut Handle::new(Link::Pooled(client)).with_pooling(self.pooling)).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        match &self.connect {
            Some(connect) => listen::listen(connect.clone(), params.spawner.clone()).await,
            None => Ok(futures::stream::pending().boxed()),
        }
    }
}

mq_sql::sql_backend!(TokioPostgresBackend);
