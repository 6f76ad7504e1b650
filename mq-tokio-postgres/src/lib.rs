//! The tokio-postgres driver for mq: jobs in PostgreSQL through
//! [`tokio_postgres`], pooled with [`deadpool_postgres`].
//!
//! [`TokioPostgresBackend`] is what a runner uses. The transactional calls
//! of [`mq_core`] (`JobBuilder::spawn`, `CurrentJob::complete_with_transaction`,
//! `commit`, `clear`, `exists`, `migrate`...) accept tokio-postgres's own
//! handles:
//!
//! | handle | what happens |
//! |---|---|
//! | `&deadpool_postgres::Pool` | a connection is taken from the pool for the call |
//! | `&deadpool_postgres::Object` (`deadpool_postgres::Client`) | runs on that connection |
//! | `&deadpool_postgres::Transaction`, `&mut` too | runs in the transaction; you commit |
//! | `deadpool_postgres::Transaction` | runs in the transaction, then commits it |
//! | `&tokio_postgres::Client` | runs on that connection |
//! | `&tokio_postgres::Transaction`, `&mut` too | runs in the transaction; you commit |
//! | `tokio_postgres::Transaction` | runs in the transaction, then commits it |
//!
//! On deadpool's handles, statements are prepared once per connection and
//! cached (deadpool's `prepare_cached`); the runner's own calls always go
//! through the pool. On a bare `tokio_postgres` client or transaction, which
//! has no statement cache, each call prepares an unnamed statement.
//!
//! # Building a runner
//!
//! A runner is built on a [`TokioPostgresBackend`], not on `&pool` as with
//! sqlx: wake-ups need a connection of their own outside the pool (deadpool
//! drives its connections itself and drops their notifications), and a
//! deadpool `Pool` does not reveal the `tokio_postgres::Config` it connects
//! with. So the backend takes that config too:
//!
//! ```no_run
//! # async fn run(registry: mq_core::JobRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use deadpool_postgres::{Manager, Pool};
//! use mq_core::Backend;
//! use mq_tokio_postgres::TokioPostgresBackend;
//! use tokio_postgres::NoTls;
//!
//! let config: tokio_postgres::Config = "postgres://app@localhost/app".parse()?;
//! let pool = Pool::builder(Manager::new(config.clone(), NoTls)).max_size(16).build()?;
//! mq_core::migrate(&pool).await?;
//! let backend = TokioPostgresBackend::new(pool.clone(), config);
//! // Through the `mq` crate, `registry.runner(&backend)` is all it takes:
//! // it pairs the backend with the runtime its features chose. This crate
//! // alone knows no runtime, so the runner is given one.
//! let runner = registry
//!     .runner(Arc::new(backend) as Arc<dyn Backend>)
//!     .set_spawner(Arc::new(mq_runtime_tokio::TokioSpawner::new()))
//!     .run()
//!     .await?;
//! # drop(runner);
//! # Ok(())
//! # }
//! ```
//!
//! A pool built from a `deadpool_postgres::Config` gets its
//! `tokio_postgres::Config` from `get_pg_config()`.
//!
//! # TLS
//!
//! The pool's TLS is whatever you built it with. The wake-up connection is
//! plain ([`tokio_postgres::NoTls`]) with `TokioPostgresBackend::new`; pass
//! your connector (rustls, native-tls...) to `TokioPostgresBackend::with_tls`
//! otherwise. No TLS crate is a dependency of this one.
//!
//! # Runtimes
//!
//! The constructors come with a runtime feature, which says whose sockets
//! the wake-up connection uses: `runtime-tokio` (on by default) tokio's,
//! `runtime-async-std` async-std's, through `Config::connect_raw` and
//! tokio-util's compat layer (tokio's I/O traits only: no tokio runtime is
//! started). With both, the backend picks when it is created: tokio's
//! inside a tokio runtime, async-std's otherwise. Sockets are all this crate
//! knows of a runtime: it never spawns a task or starts a timer itself. The
//! wake-up connection's I/O and its reconnecting run on the runner's
//! [`mq_core::Spawner`], which the `mq` crate supplies.
//!
//! The pool is yours: on tokio, `Manager::new` connects with tokio's
//! sockets and runs each connection as a tokio task. On async-std, give the
//! manager `AsyncStdConnect` instead (`Manager::from_connect`), so that
//! the pool's connections go over async-std's sockets and run as
//! async-std tasks; `connect_async_std` opens a bare connection.
//!
//! The SQL lives in [`mq_sql`], shared with the sqlx driver.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
mod connect;
mod connection;
mod error;
mod executor;
mod listen;

pub use backend::TokioPostgresBackend;
#[cfg(feature = "runtime-async-std")]
pub use connect::{AsyncStdConnect, AsyncStdSocket, connect_async_std};
#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
pub use connect::{AsyncStdTls, MakeTls, MakeTlsFor, TokioTls};
pub use mq_sql::TransactionPooled;

/// The marker type of this driver in [`mq_core::Executor`]; inferred,
/// never written by users.
#[derive(Debug)]
pub enum TokioPostgres {}
