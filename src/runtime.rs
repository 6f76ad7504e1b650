//! Pairing drivers with a runtime: the one place where mq decides which
//! async runtime a runner runs on.
//!
//! The drivers know no runtime and spawn nothing; the core runs a runner
//! on whatever [`Spawner`] it is given. This crate's features choose the
//! runtime ([`default_spawner`]), and a runner built on a driver's pool or
//! backend (`registry.runner(&pool)`) gets it through the [`IntoBackend`]
//! impls here, marked [`DefaultRuntime`]. Runners on a backend of your own
//! take a spawner from [`JobRunnerOptions::set_spawner`](crate::JobRunnerOptions::set_spawner).

#[cfg(any(
    feature = "driver-sqlx",
    feature = "driver-tokio-postgres",
    feature = "testing"
))]
use mq_core::{Backend, IntoBackend};
// Which of these are used depends on the features.
#[allow(unused_imports)]
use {mq_core::Spawner, std::sync::Arc};

/// The marker of handles that this crate pairs with the runtime its
/// features chose (see `default_spawner`, with a runtime feature);
/// inferred, never written.
#[derive(Debug)]
pub enum DefaultRuntime {}

/// The runtime this crate's features chose: tokio with `runtime-tokio`,
/// async-std with `runtime-async-std`; with both, tokio when called inside
/// a tokio runtime and async-std otherwise (the choice sqlx makes for its
/// own tasks).
#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
pub fn default_spawner() -> Arc<dyn Spawner> {
    #[cfg(all(feature = "runtime-tokio", feature = "runtime-async-std"))]
    if !mq_runtime_tokio::TokioSpawner::is_available() {
        return Arc::new(mq_runtime_async_std::AsyncStdSpawner::new());
    }
    #[cfg(feature = "runtime-tokio")]
    return Arc::new(mq_runtime_tokio::TokioSpawner::new());
    #[cfg(not(feature = "runtime-tokio"))]
    return Arc::new(mq_runtime_async_std::AsyncStdSpawner::new());
}

/// The spawner paired handles give their runners: the default one, when a
/// runtime feature is on.
#[cfg(any(
    feature = "driver-sqlx",
    feature = "driver-tokio-postgres",
    feature = "testing"
))]
fn paired_spawner() -> Option<Arc<dyn Spawner>> {
    #[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
    return Some(default_spawner());
    #[cfg(not(any(feature = "runtime-tokio", feature = "runtime-async-std")))]
    return None;
}

/// Implements `IntoBackend<DefaultRuntime>` for a backend value's reference.
#[cfg(any(
    feature = "driver-sqlx",
    feature = "driver-tokio-postgres",
    feature = "testing"
))]
macro_rules! paired {
    ($($backend:ty),+ $(,)?) => {$(
        impl IntoBackend<DefaultRuntime> for &$backend {
            fn into_backend(self) -> Arc<dyn Backend> {
                Arc::new(self.clone())
            }

            fn spawner(&self) -> Option<Arc<dyn Spawner>> {
                paired_spawner()
            }
        }
    )+};
}

#[cfg(feature = "driver-sqlx")]
paired!(mq_sqlx::SqlxBackend);
#[cfg(feature = "driver-tokio-postgres")]
paired!(mq_tokio_postgres::TokioPostgresBackend);
#[cfg(feature = "testing")]
paired!(mq_core::memory::MemoryBackend);

#[cfg(feature = "driver-sqlx")]
impl IntoBackend<DefaultRuntime> for &sqlx::PgPool {
    fn into_backend(self) -> Arc<dyn Backend> {
        Arc::new(mq_sqlx::SqlxBackend::new(self.clone()))
    }

    fn spawner(&self) -> Option<Arc<dyn Spawner>> {
        paired_spawner()
    }
}

/// deadpool-postgres's connect hook for async-std: the pool's connections
/// are opened over async-std's sockets and driven by async-std tasks. Give
/// it to the pool's manager instead of `Manager::new` (whose connections
/// are tokio tasks):
///
/// ```no_run
/// # fn pool() -> Result<(), Box<dyn std::error::Error>> {
/// use deadpool_postgres::{Manager, ManagerConfig, Pool};
/// use mq::AsyncStdConnect;
///
/// let config: tokio_postgres::Config = "postgres://app@localhost/app".parse()?;
/// let manager = Manager::from_connect(config.clone(), AsyncStdConnect::new(), ManagerConfig::default());
/// let pool = Pool::builder(manager).max_size(16).build()?;
/// # Ok(())
/// # }
/// ```
#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
#[derive(Clone, Debug)]
pub struct AsyncStdConnect<T = tokio_postgres::NoTls>(mq_tokio_postgres::AsyncStdConnect<T>);

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
impl AsyncStdConnect<tokio_postgres::NoTls> {
    /// Connections without TLS.
    pub fn new() -> Self {
        Self(mq_tokio_postgres::AsyncStdConnect::new(Arc::new(
            mq_runtime_async_std::AsyncStdSpawner::new(),
        )))
    }
}

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
impl Default for AsyncStdConnect<tokio_postgres::NoTls> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
impl<T> AsyncStdConnect<T> {
    /// Connections with TLS from `tls` (for example a
    /// `tokio_postgres_rustls::MakeRustlsConnect`).
    pub fn with_tls(tls: T) -> Self {
        Self(mq_tokio_postgres::AsyncStdConnect::with_tls(
            Arc::new(mq_runtime_async_std::AsyncStdSpawner::new()),
            tls,
        ))
    }
}

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
impl<T> deadpool_postgres::Connect for AsyncStdConnect<T>
where
    mq_tokio_postgres::AsyncStdConnect<T>: deadpool_postgres::Connect,
{
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> futures::future::BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        self.0.connect(config)
    }
}
