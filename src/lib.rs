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
//! # #[cfg(feature = "driver-sqlx")] // the example's driver
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
//! | `driver-sqlx` | yes | the sqlx driver: pass a `&PgPool`, `&mut PgConnection` or transaction; [`SqlxBackend`] |
//! | `driver-tokio-postgres` | no | the tokio-postgres driver: runners on a [`TokioPostgresBackend`]; pass a `&deadpool_postgres::Pool`, a client or a transaction |
//! | `runtime-tokio` | yes | runners on tokio ([`TokioSpawner`]) |
//! | `runtime-async-std` | no | runners on async-std ([`AsyncStdSpawner`]); sqlx on its async-std runtime; tokio-postgres over async-std's sockets (build the pool with [`AsyncStdConnect`]) |
//! | `macros` | yes | the [`job`] attribute |
//! | `testing` | no | [`testing`]: [`run_job`] to unit-test a job, the in-memory [`MemoryBackend`], and what a backend of your own needs ([`testing::backend`], [`conformance_tests!`]) |
//! | `metrics` | no | [`metrics::MetricsExporter`]: runner measurements through the `metrics` crate |
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
//! runtimes plug in through its [`Backend`] and [`Spawner`] traits.
//!
//! ## Testing jobs
//!
//! With the `testing` feature, [`testing::run_job`] runs one job of a
//! registry on an in-memory backend until it completes or runs out of
//! attempts, and says how it ended; no database, no sleeping:
//!
//! ```
//! # #[cfg(all(feature = "testing", feature = "runtime-tokio", feature = "macros"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mq::BoxError> {
//! use mq::testing::{RunOutcome, run_job};
//! use mq::{BoxError, CurrentJob, JobRegistry, job};
//!
//! #[job]
//! async fn greet(mut job: CurrentJob) -> Result<(), BoxError> {
//!     let name: String = job.json()?.ok_or("no name")?;
//!     println!("hello, {name}");
//!     job.complete().await?;
//!     Ok(())
//! }
//!
//! let registry = JobRegistry::new(&[greet]);
//! let outcome = run_job(&registry, greet.builder().set_json("Ada")?).await?;
//! assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "testing", feature = "runtime-tokio", feature = "macros")))]
//! # fn main() {}
//! ```
//!
//! [`testing::MemoryBackend`] is the in-memory queue itself, for tests
//! that spawn, run and inspect jobs as they would on a pool.
//!
//! ## A backend of your own
//!
//! Storage is one trait, [`Backend`]. A backend of your own (a fake that
//! injects faults, a wrapper that counts or traces calls, another
//! database) implements it with the types of [`testing::backend`], and
//! proves it keeps mq's semantics by passing the conformance suite that
//! the in-memory backend and both drivers pass,
//! [`conformance_tests!`]. Both come with the `testing` feature, and need
//! no crate but this one.
//!
// Links to items behind a feature resolve when it is on; without it they
// go to the table of features, which says what to enable.
#![cfg_attr(feature = "driver-sqlx", doc = "[`SqlxBackend`]: crate::SqlxBackend")]
#![cfg_attr(not(feature = "driver-sqlx"), doc = "[`SqlxBackend`]: #features")]
#![cfg_attr(
    feature = "driver-tokio-postgres",
    doc = "[`TokioPostgresBackend`]: crate::TokioPostgresBackend"
)]
#![cfg_attr(
    not(feature = "driver-tokio-postgres"),
    doc = "[`TokioPostgresBackend`]: #features"
)]
#![cfg_attr(
    feature = "runtime-tokio",
    doc = "[`TokioSpawner`]: crate::TokioSpawner"
)]
#![cfg_attr(not(feature = "runtime-tokio"), doc = "[`TokioSpawner`]: #features")]
#![cfg_attr(
    feature = "runtime-async-std",
    doc = "[`AsyncStdSpawner`]: crate::AsyncStdSpawner"
)]
#![cfg_attr(
    not(feature = "runtime-async-std"),
    doc = "[`AsyncStdSpawner`]: #features"
)]
#![cfg_attr(
    all(feature = "driver-tokio-postgres", feature = "runtime-async-std"),
    doc = "[`AsyncStdConnect`]: crate::AsyncStdConnect"
)]
#![cfg_attr(
    not(all(feature = "driver-tokio-postgres", feature = "runtime-async-std")),
    doc = "[`AsyncStdConnect`]: #features"
)]
#![cfg_attr(feature = "macros", doc = "[`job`]: macro@crate::job")]
#![cfg_attr(not(feature = "macros"), doc = "[`job`]: #features")]
#![cfg_attr(feature = "testing", doc = "[`testing`]: crate::testing")]
#![cfg_attr(not(feature = "testing"), doc = "[`testing`]: #features")]
#![cfg_attr(feature = "testing", doc = "[`run_job`]: crate::testing::run_job")]
#![cfg_attr(not(feature = "testing"), doc = "[`run_job`]: #features")]
#![cfg_attr(
    feature = "testing",
    doc = "[`testing::run_job`]: crate::testing::run_job"
)]
#![cfg_attr(not(feature = "testing"), doc = "[`testing::run_job`]: #features")]
#![cfg_attr(
    feature = "testing",
    doc = "[`MemoryBackend`]: crate::testing::MemoryBackend"
)]
#![cfg_attr(not(feature = "testing"), doc = "[`MemoryBackend`]: #features")]
#![cfg_attr(
    feature = "testing",
    doc = "[`testing::MemoryBackend`]: crate::testing::MemoryBackend"
)]
#![cfg_attr(
    not(feature = "testing"),
    doc = "[`testing::MemoryBackend`]: #features"
)]
#![cfg_attr(
    feature = "testing",
    doc = "[`testing::backend`]: crate::testing::backend"
)]
#![cfg_attr(not(feature = "testing"), doc = "[`testing::backend`]: #features")]
#![cfg_attr(
    feature = "testing",
    doc = "[`conformance_tests!`]: crate::conformance_tests"
)]
#![cfg_attr(not(feature = "testing"), doc = "[`conformance_tests!`]: #features")]
#![cfg_attr(
    feature = "metrics",
    doc = "[`metrics::MetricsExporter`]: crate::metrics::MetricsExporter"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "[`metrics::MetricsExporter`]: #features"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod runtime;

pub use mq_core::admin;
pub use mq_core::backend::JobState;
pub use mq_core::registry::{JobPanicked, JobTimedOut, UnknownJob, error_text};
pub use mq_core::retry::RetryPolicy;
pub use mq_core::{
    Backend, BackendExt, BoxError, CancelOutcome, Checkpoint, Executor, IntoBackend, JobBuilder,
    MissedTicks, NamedJob, Result, Schedule, Spawned, Spawner, StandaloneBackend, Uuid, cancel,
    clear, clear_all, commit, exists, migrate, spawn_many_deduplicated,
};
pub use mq_core::{DEFAULT_PAYLOAD_LIMIT, payload_limit, set_payload_limit};
pub use runtime::DefaultRuntime;
#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
pub use runtime::default_spawner;

/// The job a job function is given: its payload, and the calls that record
/// what became of it. A `#[job]` function takes it as its first argument;
/// a runner built with [`JobRunnerOptions::new`] hands it to its callback.
///
/// A long job that checkpoints its progress, so that a retry starts where
/// the failed attempt left off (run here with `mq::testing::run_job`):
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio", feature = "macros"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mq::BoxError> {
/// use std::time::Duration;
///
/// use mq::{BoxError, Checkpoint, CurrentJob, JobRegistry, job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Progress {
///     rows: Vec<u32>,
///     done: usize,
/// }
///
/// #[job(retries = 3)]
/// async fn import(mut job: CurrentJob) -> Result<(), BoxError> {
///     let mut progress: Progress = job.json()?.ok_or("no payload")?;
///     while progress.done < progress.rows.len() {
///         println!("attempt {}: row {}", job.attempt(), progress.rows[progress.done]);
///         progress.done += 1;
///         // Saved for the next attempt, which starts from here; the job is
///         // also held for another minute.
///         let mut checkpoint = Checkpoint::new_keep_alive(Duration::from_secs(60));
///         checkpoint.set_json(&progress)?;
///         job.checkpoint(&checkpoint).await?;
///     }
///     job.complete().await?;
///     Ok(())
/// }
///
/// let registry = JobRegistry::new(&[import]);
/// let payload = Progress { rows: vec![1, 2, 3], done: 0 };
/// let outcome = mq::testing::run_job(&registry, import.builder().set_json(&payload)?).await?;
/// assert!(outcome.is_completed());
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio", feature = "macros")))]
/// # fn main() {}
/// ```
///
/// To complete a job together with the writes it made, in one
/// transaction, see [`complete_with_transaction`](CurrentJob::complete_with_transaction).
pub use mq_core::CurrentJob;

/// The jobs a runner runs, by name, with the context values they take and
/// a handler for their errors. [`runner`](JobRegistry::runner) builds a
/// runner of them on a pool, a backend, or the in-memory backend.
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio", feature = "macros"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mq::BoxError> {
/// use std::sync::{Arc, Mutex};
///
/// use mq::{BoxError, CurrentJob, JobRegistry, job};
///
/// type Outbox = Arc<Mutex<Vec<String>>>;
///
/// // Arguments after the job are context values, found by type.
/// #[job(channel_name = "emails")]
/// async fn send_email(mut job: CurrentJob, outbox: Outbox) -> Result<(), BoxError> {
///     let to: String = job.json()?.ok_or("no recipient")?;
///     outbox.lock().unwrap().push(to);
///     job.complete().await?;
///     Ok(())
/// }
///
/// let outbox = Outbox::default();
/// let mut registry = JobRegistry::new(&[send_email]);
/// registry
///     .set_context(outbox.clone())
///     .set_error_handler(|name, error| eprintln!("job {name} failed: {error}"));
///
/// // In production, `registry.runner(&pool).run().await?`; in a test:
/// let job = send_email.builder().set_json("ada@example.com")?.clone();
/// assert!(mq::testing::run_job(&registry, &job).await?.is_completed());
/// assert_eq!(*outbox.lock().unwrap(), ["ada@example.com"]);
///
/// // A registry that lacks a context value one of its jobs takes refuses
/// // to start a runner, naming the job and the type.
/// let bare = JobRegistry::new(&[send_email]);
/// let refused = mq::testing::run_job(&bare, &job).await;
/// assert!(matches!(refused, Err(mq::Error::MissingContext { .. })));
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio", feature = "macros")))]
/// # fn main() {}
/// ```
pub use mq_core::JobRegistry;

/// How a runner runs: on which pool or backend, how many jobs at once,
/// from which channels, with which lease; [`run`](JobRunnerOptions::run)
/// starts it. [`JobRegistry::runner`] makes options that run the
/// registry's jobs; [`JobRunnerOptions::new`] options that hand every job
/// to a callback of yours.
///
/// A registry's runner on a pool, set up for slow jobs:
///
/// ```no_run
/// # #[cfg(feature = "driver-sqlx")]
/// # async fn run(pool: sqlx::PgPool, registry: mq::JobRegistry) -> mq::Result<()> {
/// use std::time::Duration;
///
/// let mut runner = registry
///     .runner(&pool)
///     .set_channel_names(&["reports", "exports"])
///     .set_concurrency(2, 4) // a few at a time
///     .set_lease(Duration::from_secs(120)) // given back 2 minutes after a crash
///     .run()
///     .await?;
/// # runner.stop().await;
/// # Ok(())
/// # }
/// ```
///
/// A runner that hands each job to a callback, on the in-memory backend:
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mq::Result<()> {
/// use mq::testing::MemoryBackend;
/// use mq::{JobBuilder, JobRunnerOptions};
///
/// let backend = MemoryBackend::new();
/// let id = JobBuilder::new("resize").set_channel_name("images").spawn(&backend).await?;
///
/// let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
/// let mut runner = JobRunnerOptions::new(&backend, move |mut job| {
///     // Called on the runner's claim loop: run the job in a task of its own.
///     let done = done.clone();
///     tokio::spawn(async move {
///         println!("{} from {}", job.name(), job.channel_name());
///         job.complete().await.expect("completed");
///         let _ = done.send(job.id());
///     });
/// })
/// .set_channel_names(&["images"])
/// .run()
/// .await?;
///
/// assert_eq!(finished.recv().await, Some(id));
/// runner.stop().await;
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio")))]
/// # fn main() {}
/// ```
pub use mq_core::JobRunnerOptions;

/// A running runner, as [`JobRunnerOptions::run`] returns it: keep it for
/// as long as jobs should run. Stopping it (or dropping it) stops the
/// claiming of jobs; the jobs already running go on, and
/// [`wait_jobs_finish`](JobRunnerHandle::wait_jobs_finish) waits for them.
///
/// A graceful shutdown, here on the in-memory backend:
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio", feature = "macros"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mq::BoxError> {
/// use std::time::Duration;
///
/// use mq::testing::MemoryBackend;
/// use mq::{BoxError, CurrentJob, JobRegistry, job};
/// use tokio::sync::mpsc::UnboundedSender;
///
/// #[job]
/// async fn slow(mut job: CurrentJob, started: UnboundedSender<()>) -> Result<(), BoxError> {
///     started.send(())?;
///     tokio::time::sleep(Duration::from_millis(100)).await;
///     job.complete().await?;
///     Ok(())
/// }
///
/// let backend = MemoryBackend::new();
/// let (started, mut has_started) = tokio::sync::mpsc::unbounded_channel::<()>();
/// let mut registry = JobRegistry::new(&[slow]);
/// registry.set_context(started);
/// let mut runner = registry.runner(&backend).run().await?;
///
/// let id = slow.builder().spawn(&backend).await?;
/// has_started.recv().await;
/// assert_eq!(runner.num_running_jobs(), 1);
///
/// // At shutdown: claim no more jobs, and give those running time to end.
/// runner.stop().await;
/// assert!(runner.wait_jobs_finish(Duration::from_secs(30)).await);
/// assert!(!mq::exists(&backend, id).await?); // the job completed
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio", feature = "macros")))]
/// # fn main() {}
/// ```
pub use mq_core::JobRunnerHandle;

/// Everything that can go wrong in a call to mq, one variant per cause, so
/// that callers can tell bad input from a database that is down.
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mq::Result<()> {
/// use mq::testing::MemoryBackend;
/// use mq::{Error, JobBuilder, Uuid};
///
/// let backend = MemoryBackend::new();
///
/// // Bad input is refused before anything is written.
/// match JobBuilder::new("report").set_channel_name("a\0b").spawn(&backend).await {
///     Err(Error::InvalidInput { field, reason }) => {
///         assert_eq!(field, "channel_name");
///         println!("refused: {reason}");
///     }
///     other => panic!("expected a refusal, got {other:?}"),
/// }
///
/// // `commit` names the jobs it found nothing to commit for.
/// let unknown = Uuid::now_v7();
/// match mq::commit(&backend, &[unknown]).await {
///     Err(Error::NotFound { ids }) => assert_eq!(ids, [unknown]),
///     other => panic!("expected NotFound, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio")))]
/// # fn main() {}
/// ```
///
/// A database error says whether trying again may help, and keeps the
/// driver's error as its source:
///
/// ```no_run
/// # #[cfg(feature = "driver-sqlx")]
/// # async fn spawn(pool: sqlx::PgPool) {
/// use std::error::Error as _;
///
/// match mq::JobBuilder::new("report").spawn(&pool).await {
///     Ok(id) => println!("spawned {id}"),
///     Err(error) if error.is_transient() => eprintln!("try again later: {error}"),
///     Err(error) => match error.source().and_then(|e| e.downcast_ref::<sqlx::Error>()) {
///         Some(sqlx::Error::Database(db)) => eprintln!("SQLSTATE {:?}", db.code()),
///         _ => eprintln!("{error}"),
///     },
/// }
/// # }
/// ```
pub use mq_core::Error;

/// Spawns a batch of jobs in one statement (one round trip), through a
/// pool, a connection or a transaction: all of them, or none if it fails.
/// Far faster than spawning them one by one.
///
/// ```
/// # #[cfg(all(feature = "testing", feature = "runtime-tokio"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mq::Result<()> {
/// use mq::testing::MemoryBackend;
/// use mq::{JobBuilder, JobState, admin};
///
/// let backend = MemoryBackend::new(); // or `&pool`, `&mut *tx`...
/// let mut jobs = Vec::new();
/// for user in ["ada", "grace", "alan"] {
///     let mut job = JobBuilder::new("welcome");
///     job.set_channel_name("emails").set_json(user)?;
///     jobs.push(job);
/// }
/// let ids = mq::spawn_many(&backend, &jobs).await?;
/// assert_eq!(ids.len(), 3);
/// assert_eq!(admin::stats(&backend).await?.total(JobState::Ready), 3);
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "testing", feature = "runtime-tokio")))]
/// # fn main() {}
/// ```
///
/// In a transaction, the jobs exist only if it commits:
///
/// ```no_run
/// # #[cfg(feature = "driver-sqlx")]
/// # async fn spawn(pool: sqlx::PgPool, jobs: Vec<mq::JobBuilder>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = pool.begin().await?;
/// // ... your own writes ...
/// mq::spawn_many(&mut *tx, &jobs).await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
pub use mq_core::spawn_many;

#[cfg(feature = "macros")]
pub use mq_macros::job;

/// What runners built on a sqlx pool run on: `registry.runner(&pool)` makes
/// one with the defaults. Build it yourself to say how it connects (through
/// PgBouncer, where runners listen), then build runners on `&backend` and
/// spawn through it or through the pool.
///
/// ```no_run
/// # async fn run(registry: mq::JobRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// use mq::{BackendExt, JobBuilder, JobState, SqlxBackend};
///
/// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// mq::migrate(&pool).await?;
/// let backend = SqlxBackend::new(pool.clone());
/// let mut runner = registry.runner(&backend).set_concurrency(8, 32).run().await?;
///
/// let id = JobBuilder::new("report").spawn(&backend).await?;
/// assert_ne!(backend.job_state(id).await?, Some(JobState::Failed));
/// runner.stop().await;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "driver-sqlx")]
pub use mq_sqlx::SqlxBackend;

/// What runners on the tokio-postgres driver are built on: a deadpool pool
/// for the queries, and the config that opens the runners' own connection
/// for wake-ups (deadpool does not give it back). Spawn through the pool,
/// your clients and transactions, or the backend.
///
/// ```no_run
/// # #[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
/// # async fn run(registry: mq::JobRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// use deadpool_postgres::{Manager, Pool};
/// use mq::{JobBuilder, TokioPostgresBackend};
/// use tokio_postgres::NoTls;
///
/// let config: tokio_postgres::Config = "postgres://app@localhost/app".parse()?;
/// let pool = Pool::builder(Manager::new(config.clone(), NoTls)).max_size(16).build()?;
/// mq::migrate(&pool).await?;
///
/// let backend = TokioPostgresBackend::new(pool.clone(), config);
/// let mut runner = registry.runner(&backend).run().await?;
/// JobBuilder::new("report").spawn(&pool).await?;
/// runner.stop().await;
/// # Ok(())
/// # }
/// ```
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

#[cfg(feature = "testing")]
pub mod testing;

/// Runs the backend conformance suite on a backend of your own, the suite
/// the in-memory backend and both PostgreSQL drivers pass. In a test file
/// (`tests/my_backend.rs`), with the runtime of your tests:
///
/// ```
/// # #[cfg(feature = "runtime-tokio")]
/// # mod suite {
/// use mq::testing::MemoryBackend;
///
/// // Yours would return your backend, on fresh storage.
/// async fn backend() -> MemoryBackend {
///     MemoryBackend::new()
/// }
///
/// mq::conformance_tests!(#[tokio::test], backend, mq::default_spawner());
/// # }
/// # fn main() {}
/// ```
///
/// The cases come from [`testing::conformance`], one module per
/// [`Backend`] method; `examples/counting_backend.rs` is a backend that
/// passes them (`tests/counting_backend.rs` runs them).
#[cfg(feature = "testing")]
pub use mq_core::conformance_tests;

/// What the `#[job]` macro expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use mq_core::registry::NamedSchedule;
    pub use mq_core::registry::{JobFuture, JobResult};
    pub use mq_core::{CurrentJob, Error, JobBuilder, JobRegistry, NamedJob, Result};
}
