//! # mq
//!
//! A background job queue for Rust applications that already run
//! PostgreSQL. Jobs live in the application's own database: they are
//! covered by its backups, and can be spawned, completed and checkpointed
//! inside its own transactions.
//!
//! ```no_run
//! use std::error::Error;
//!
//! use mq::{job, CurrentJob, JobRegistry};
//!
//! #[job(channel_name = "emails", retries = 3)]
//! async fn send_welcome(
//!     mut job: CurrentJob,
//!     greeting: &'static str,
//! ) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
//!     let who: Option<String> = job.json()?;
//!     println!("{greeting}, {}!", who.as_deref().unwrap_or("world"));
//!     job.complete().await?;
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn Error>> {
//! let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
//! mq::migrate(&pool).await?;
//!
//! let mut registry = JobRegistry::new(&[send_welcome]);
//! registry.set_context("Hello");
//! let runner = registry.runner(&pool).set_concurrency(10, 20).run().await?;
//!
//! send_welcome.builder().set_json("Ada")?.spawn(&pool).await?;
//! # drop(runner);
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it enables |
//! |---|---|---|
//! | `driver-sqlx` | yes | the sqlx driver: pass a `&PgPool`, `&mut PgConnection` or transaction |
//! | `driver-tokio-postgres` | no | the tokio-postgres driver: runners on a `TokioPostgresBackend`; pass a `&deadpool_postgres::Pool`, a client or a transaction |
//! | `runtime-tokio` | yes | runners on tokio |
//! | `runtime-async-std` | no | runners on async-std (`AsyncStdSpawner`); sqlx on its async-std runtime; tokio-postgres over async-std's sockets (build the pool with `AsyncStdConnect`) |
//! | `macros` | yes | the [`job`] attribute |
//! | `testing` | no | [`testing::MemoryBackend`] and the backend conformance suite |
//! | `metrics` | no | `metrics::MetricsExporter`: runner measurements through the `metrics` crate |
//!
//! With both runtime features, the runtime is picked when a runner's
//! backend is created (`registry.runner(&pool)`,
//! `TokioPostgresBackend::new`): tokio when that happens inside a tokio
//! runtime, async-std otherwise, the way sqlx picks for its own tasks. No
//! tokio runtime is ever started by mq: on async-std, the drivers use
//! tokio's I/O traits at most.
//!
//! ## How the pieces fit
//!
//! - [`JobBuilder`] describes a job; `spawn` inserts it through a pool,
//!   connection or transaction, [`spawn_many`] inserts a batch in one round
//!   trip.
//! - A runner ([`JobRegistry::runner`] or [`JobRunnerOptions::new`])
//!   claims ready jobs in batches, fairly across channels, and runs them.
//! - A job receives a [`CurrentJob`]: its payload, and the calls that record
//!   progress (`complete`, `complete_with_transaction`, `checkpoint`,
//!   `keep_alive`). A job that returns an error, panics or is dropped
//!   without completing is retried with exponential backoff.
//! - [`admin`] inspects and repairs the queue: get, list and count jobs,
//!   retry or delete failed ones (kept with their error history), prune
//!   old ones. [`JobRunnerOptions::set_keep_completed`] keeps completed jobs
//!   for it. The `mq` command line (crate `mq-cli`) does the same from a
//!   shell.
//!
//! The core ([`mq_core`]) knows no database and no runtime; drivers and
//! runtimes plug in through its `Backend` and `Spawner` traits.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod runtime;

pub use mq_core::admin;
pub use mq_core::backend::JobState;
pub use mq_core::registry::{JobPanicked, UnknownJob, error_text};
pub use mq_core::{
    Backend, BackendExt, BoxError, Checkpoint, CurrentJob, Error, Executor, IntoBackend,
    JobBuilder, JobRegistry, JobRunnerHandle, JobRunnerOptions, NamedJob, Result, Spawner,
    StandaloneBackend, Uuid, clear, clear_all, commit, exists, migrate, spawn_many,
};
pub use mq_core::{DEFAULT_PAYLOAD_LIMIT, payload_limit, set_payload_limit};
pub use runtime::DefaultRuntime;
#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
pub use runtime::default_spawner;

#[cfg(feature = "macros")]
pub use mq_macros::job;

#[cfg(feature = "driver-sqlx")]
pub use mq_sqlx::SqlxBackend;

#[cfg(feature = "driver-tokio-postgres")]
pub use mq_tokio_postgres::TokioPostgresBackend;

#[cfg(feature = "driver-sqlx")]
pub use mq_sqlx::TransactionPooled;
#[cfg(all(feature = "driver-tokio-postgres", not(feature = "driver-sqlx")))]
pub use mq_tokio_postgres::TransactionPooled;

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
pub use mq_tokio_postgres::connect_async_std;
#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
pub use runtime::AsyncStdConnect;

#[cfg(feature = "runtime-tokio")]
pub use mq_runtime_tokio::TokioSpawner;

#[cfg(feature = "runtime-async-std")]
pub use mq_runtime_async_std::AsyncStdSpawner;

pub use mq_core::runner::report;

#[cfg(feature = "metrics")]
pub mod metrics;

/// Testing without a database: the in-memory backend, and the backend
/// conformance suite for backends of your own.
#[cfg(feature = "testing")]
pub mod testing {
    pub use mq_core::conformance;
    pub use mq_core::memory::MemoryBackend;
}

/// What the `#[job]` macro expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use mq_core::registry::{JobFuture, JobResult};
    pub use mq_core::{CurrentJob, Error, JobBuilder, JobRegistry, NamedJob, Result};
}
