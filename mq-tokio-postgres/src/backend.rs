//! [`TokioPostgresBackend`]: the runner's backend over a deadpool pool.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use futures::stream::BoxStream;
use mq_core::Result;
use mq_core::backend::{ListenParams, Wakeup};
use mq_sql::{Connection, Database, queries};

use crate::error::pool_at;
use crate::executor::Handle;
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
#[derive(Clone)]
pub struct TokioPostgresBackend {
    pool: Pool,
    connect: Arc<dyn Connect>,
}

impl std::fmt::Debug for TokioPostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioPostgresBackend")
            .field("pool", &self.pool)
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
            connect: crate::connect::listen_connector(listen_config, tls),
        }
    }
}

impl TokioPostgresBackend {
    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

#[async_trait]
impl Database for TokioPostgresBackend {
    async fn connection(&self, operation: &'static str) -> Result<Box<dyn Connection + '_>> {
        let client = self.pool.get().await.map_err(pool_at(operation))?;
        Ok(Box::new(Handle::Pooled(client)))
    }

    /// On a pooled connection of its own, whose transaction is a
    /// `deadpool_postgres::Transaction` (see [`Handle`]).
    async fn migrate(&self) -> Result<()> {
        let client = self.pool.get().await.map_err(pool_at("migrate"))?;
        queries::migrate(&mut Handle::Pooled(client)).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        listen::listen(self.connect.clone(), params.spawner.clone()).await
    }
}

mq_sql::sql_backend!(TokioPostgresBackend);
