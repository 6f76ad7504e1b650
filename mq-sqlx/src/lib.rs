//! The sqlx driver for mq: jobs in PostgreSQL through sqlx's `PgPool`.
//!
//! [`SqlxBackend`] is what a runner uses; the transactional calls of
//! [`mq_core`] (`JobBuilder::spawn`, `CurrentJob::complete_with_transaction`,
//! `commit`, `clear`, `exists`, `migrate`...) accept sqlx's own handles:
//! `&PgPool`, `&mut PgConnection` (`&mut *tx`), `&mut Transaction`, or an
//! owned `Transaction`, which is committed after the call.
//!
//! The SQL lives in [`mq_sql`], shared with the tokio-postgres driver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod error;
mod executor;
mod listen;
mod queries;

use std::sync::Arc;

pub use backend::SqlxBackend;

/// The marker type of this driver in [`mq_core::Executor`] and
/// [`mq_core::IntoBackend`]; inferred, never written by users.
#[derive(Debug)]
pub enum Sqlx {}

/// The spawner for the runtime this crate was built for.
#[cfg(feature = "runtime-tokio")]
pub(crate) fn default_spawner() -> Arc<dyn mq_core::Spawner> {
    Arc::new(mq_runtime_tokio::TokioSpawner::new())
}
