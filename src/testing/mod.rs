//! Testing without a database (feature `testing`).
//!
//! - [`run_job`] runs one job of your registry to its outcome and returns
//!   it: completed, failed with its error, or unfinished. It is the usual
//!   way to unit-test a job; [`JobTester`] holds its settings.
//! - [`MemoryBackend`] is an in-memory queue with the semantics of the
//!   PostgreSQL drivers, for tests that spawn, run and inspect jobs as they
//!   would on a pool.
//! - [`backend`] and [`conformance_tests!`](crate::conformance_tests) are
//!   for writing a [`Backend`](crate::Backend) of your own, with the cases
//!   of the conformance suite in [`conformance`].
//!
//! ```
//! # #[cfg(all(feature = "runtime-tokio", feature = "macros"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mq::BoxError> {
//! use mq::testing::{RunOutcome, run_job};
//! use mq::{BoxError, CurrentJob, JobRegistry, job};
//!
//! #[job(retries = 1)]
//! async fn charge(mut job: CurrentJob) -> Result<(), BoxError> {
//!     let cents: u64 = job.json()?.ok_or("no amount")?;
//!     if cents == 0 {
//!         return Err("nothing to charge".into());
//!     }
//!     job.complete().await?;
//!     Ok(())
//! }
//!
//! let registry = JobRegistry::new(&[charge]);
//!
//! let outcome = run_job(&registry, charge.builder().set_json(&1250)?).await?;
//! assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
//!
//! let outcome = run_job(&registry, charge.builder().set_json(&0)?).await?;
//! assert_eq!(
//!     outcome,
//!     RunOutcome::Failed { attempts: 2, error: "nothing to charge".into() }
//! );
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "runtime-tokio", feature = "macros")))]
//! # fn main() {}
//! ```

pub mod backend;
mod run;

pub use run::{JobTester, RunOutcome, run_job};

/// An in-memory queue for tests: every call that takes a pool takes
/// `&backend` too ([`spawn`](crate::JobBuilder::spawn),
/// [`admin`](crate::admin), [`exists`](crate::exists)...), and runners are
/// built on it as on a pool, with the runtime this crate's features chose.
/// [`run_job`] runs a single job on a fresh one.
///
/// ```
/// # #[cfg(feature = "runtime-tokio")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> mq::Result<()> {
/// use std::time::Duration;
///
/// use mq::testing::MemoryBackend;
/// use mq::{JobBuilder, JobRunnerOptions, JobState, admin};
///
/// let backend = MemoryBackend::new();
/// let now = JobBuilder::new("report").spawn(&backend).await?;
/// let later = JobBuilder::new("report")
///     .set_delay(Duration::from_secs(3600))
///     .spawn(&backend)
///     .await?;
/// let job = admin::get(&backend, later).await?.expect("spawned");
/// assert_eq!(job.state, JobState::Scheduled);
///
/// // A runner on it takes the job that is ready.
/// let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
/// let mut runner = JobRunnerOptions::new(&backend, move |mut job| {
///     let done = done.clone();
///     tokio::spawn(async move {
///         job.complete().await.expect("completed");
///         let _ = done.send(job.id());
///     });
/// })
/// .run()
/// .await?;
/// assert_eq!(finished.recv().await, Some(now));
/// runner.stop().await;
///
/// assert!(!mq::exists(&backend, now).await?);
/// assert_eq!(backend.len(), 1); // the delayed job waits for its time
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "runtime-tokio"))]
/// # fn main() {}
/// ```
pub use mq_core::memory::MemoryBackend;

/// The cases of the conformance suite, one module per
/// [`Backend`](crate::Backend) method, each a function of a fresh backend;
/// [`conformance_tests!`](crate::conformance_tests) makes a test of each.
pub use mq_core::conformance;
