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
//! sqlx must be built for a runtime: this crate's features `runtime-tokio`
//! (the default) and `runtime-async-std` turn on sqlx's own. This crate
//! knows no runtime beyond that and never spawns a task: the runners'
//! runtime comes from the `mq` crate, which pairs this driver with the
//! runtime its features chose, or from `JobRunnerOptions::set_spawner`.
//!
//! The SQL lives in [`mq_sql`], shared with the tokio-postgres driver.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod connection;
mod error;
mod executor;
mod listen;

pub use backend::SqlxBackend;
pub use mq_sql::TransactionPooled;

/// The marker type of this driver in [`mq_core::Executor`] and
/// [`mq_core::IntoBackend`]; inferred, never written by users.
#[derive(Debug)]
pub enum Sqlx {}
