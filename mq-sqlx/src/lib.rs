//! The sqlx driver for mq: jobs in PostgreSQL through sqlx's `PgPool`.
//!
//! [`SqlxBackend`] is what a runner uses; the transactional calls of
//! [`mq_core`] (`JobBuilder::spawn`, `CurrentJob::complete_with_transaction`,
//! `commit`, `clear`, `exists`, `migrate`...) accept sqlx's own handles:
//! `&PgPool`, `&mut PgConnection` (`&mut *tx`), `&mut Transaction`, or an
//! owned `Transaction`, which is committed after the call.
//!
//! # Runtimes
//!
//! sqlx is built for the runtime of this crate's features, `runtime-tokio`
//! (the default) or `runtime-async-std` (sqlx's own runtime features), and
//! [`SqlxBackend::new`] runs its runners on the same one. With both
//! enabled, the backend picks when it is created, the way sqlx does for
//! its own tasks: tokio when created inside a tokio runtime, async-std
//! otherwise. [`SqlxBackend::with_spawner`] chooses explicitly.
//!
//! The SQL lives in [`mq_sql`], shared with the tokio-postgres driver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod connection;
mod error;
mod executor;
mod listen;

use std::sync::Arc;

pub use backend::SqlxBackend;

/// The marker type of this driver in [`mq_core::Executor`] and
/// [`mq_core::IntoBackend`]; inferred, never written by users.
#[derive(Debug)]
pub enum Sqlx {}

/// The spawner for the runtime this crate was built for. Built for both,
/// tokio when called inside a tokio runtime and async-std otherwise: the
/// choice sqlx itself makes for its own tasks.
#[cfg(all(feature = "runtime-tokio", feature = "runtime-async-std"))]
pub(crate) fn default_spawner() -> Arc<dyn mq_core::Spawner> {
    if mq_runtime_tokio::TokioSpawner::is_available() {
        Arc::new(mq_runtime_tokio::TokioSpawner::new())
    } else {
        Arc::new(mq_runtime_async_std::AsyncStdSpawner::new())
    }
}

/// The spawner for the runtime this crate was built for.
#[cfg(all(feature = "runtime-tokio", not(feature = "runtime-async-std")))]
pub(crate) fn default_spawner() -> Arc<dyn mq_core::Spawner> {
    Arc::new(mq_runtime_tokio::TokioSpawner::new())
}

/// The spawner for the runtime this crate was built for.
#[cfg(all(feature = "runtime-async-std", not(feature = "runtime-tokio")))]
pub(crate) fn default_spawner() -> Arc<dyn mq_core::Spawner> {
    Arc::new(mq_runtime_async_std::AsyncStdSpawner::new())
}
