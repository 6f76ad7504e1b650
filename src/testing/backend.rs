//! Everything a [`Backend`] of your own needs, through `mq` alone: the
//! trait, every type its methods take and return, and the crates they come
//! from, re-exported ([`async_trait`](macro@async_trait), [`OffsetDateTime`],
//! [`BoxStream`]).
//!
//! Storage for mq is one trait, [`Backend`]: one method per operation that
//! must be atomic in storage, each taking a params struct. Implement it
//! with [`async_trait`](macro@async_trait) (the trait is declared with
//! it), and implement [`StandaloneBackend`] (an empty impl) to build
//! runners on `&backend`; such a runner takes its runtime from
//! [`JobRunnerOptions::set_spawner`](crate::JobRunnerOptions::set_spawner),
//! usually `mq::default_spawner()` (with a runtime feature). Every other
//! call of mq (spawning, [`admin`](crate::admin),
//! [`exists`](crate::exists)...) takes `&backend` as it takes a pool, and
//! [`BackendExt`] adds a few conveniences to it.
//!
//! A backend is held to mq's semantics by the conformance suite: run it
//! with [`conformance_tests!`](crate::conformance_tests) in a test file.
//! The methods' documentation says what each must do; the in-memory
//! [`MemoryBackend`](crate::testing::MemoryBackend) is a complete
//! implementation to read, or to wrap.
//!
//! A wrapper that fails claims on demand, to see how a runner copes with a
//! database that goes away (`examples/counting_backend.rs` is a complete
//! wrapper, with every method written out):
//!
//! ```
//! # #[cfg(feature = "runtime-tokio")]
//! # mod example {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! use mq::testing::MemoryBackend;
//! use mq::testing::backend::*;
//!
//! #[derive(Clone, Default)]
//! pub struct Unreliable {
//!     inner: MemoryBackend,
//!     down: Arc<AtomicBool>,
//! }
//!
//! impl Unreliable {
//!     pub fn set_down(&self, down: bool) {
//!         self.down.store(down, Ordering::SeqCst);
//!     }
//! }
//!
//! #[async_trait]
//! impl Backend for Unreliable {
//!     async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
//!         if self.down.load(Ordering::SeqCst) {
//!             // Transient: the runner backs off and claims again.
//!             return Err(Error::backend("job_claim", true, "the database is down"));
//!         }
//!         self.inner.job_claim(params).await
//!     }
//!
//!     async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>> {
//!         self.inner.job_insert(params).await
//!     }
//!
//!     async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
//!         self.inner.listen(params).await
//!     }
//!
//!     // ...and every other method, delegated the same way.
//! #   async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
//! #       self.inner.job_commit(params).await
//! #   }
//! #   async fn job_complete(
//! #       &self,
//! #       params: JobCompleteParams<'_>,
//! #   ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
//! #       self.inner.job_complete(params).await
//! #   }
//! #   async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
//! #       self.inner.job_fail(params).await
//! #   }
//! #   async fn job_release(
//! #       &self,
//! #       params: JobReleaseParams<'_>,
//! #   ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
//! #       self.inner.job_release(params).await
//! #   }
//! #   async fn job_keep_alive(
//! #       &self,
//! #       params: JobKeepAliveParams<'_>,
//! #   ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
//! #       self.inner.job_keep_alive(params).await
//! #   }
//! #   async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
//! #       self.inner.job_checkpoint(params).await
//! #   }
//! #   async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
//! #       self.inner.job_schedule(params).await
//! #   }
//! #   async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
//! #       self.inner.job_get(params).await
//! #   }
//! #   async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
//! #       self.inner.job_list(params).await
//! #   }
//! #   async fn job_stats(&self, params: JobStatsParams) -> Result<QueueStats> {
//! #       self.inner.job_stats(params).await
//! #   }
//! #   async fn job_cancel(&self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>> {
//! #       self.inner.job_cancel(params).await
//! #   }
//! #   async fn channel_pause(&self, params: ChannelPauseParams<'_>) -> Result<bool> {
//! #       self.inner.channel_pause(params).await
//! #   }
//! #   async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
//! #       self.inner.job_retry(params).await
//! #   }
//! #   async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
//! #       self.inner.job_delete(params).await
//! #   }
//! #   async fn channel_limit(&self, params: ChannelLimitParams<'_>) -> Result<bool> {
//! #       self.inner.channel_limit(params).await
//! #   }
//! #   async fn channel_limits(&self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>> {
//! #       self.inner.channel_limits(params).await
//! #   }
//! #   async fn job_claim_limited(&self, params: JobClaimLimitedParams<'_>) -> Result<Vec<ClaimedJob>> {
//! #       self.inner.job_claim_limited(params).await
//! #   }
//! #   async fn schedule_declare(&self, params: ScheduleDeclareParams<'_>) -> Result<ScheduleDeclared> {
//! #       self.inner.schedule_declare(params).await
//! #   }
//! #   async fn schedule_fire(&self, params: ScheduleFireParams<'_>) -> Result<Option<Vec<Spawned>>> {
//! #       self.inner.schedule_fire(params).await
//! #   }
//! #   async fn schedule_release(&self, params: ScheduleReleaseParams<'_>) -> Result<()> {
//! #       self.inner.schedule_release(params).await
//! #   }
//! #   async fn schedule_list(&self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>> {
//! #       self.inner.schedule_list(params).await
//! #   }
//! #   async fn activity_record(&self, params: ActivityRecordParams<'_>) -> Result<()> {
//! #       self.inner.activity_record(params).await
//! #   }
//! #   async fn throughput_list(&self, params: ThroughputListParams) -> Result<Vec<MinuteCount>> {
//! #       self.inner.throughput_list(params).await
//! #   }
//! #   async fn runner_list(&self, params: RunnerListParams) -> Result<Vec<RunnerInfo>> {
//! #       self.inner.runner_list(params).await
//! #   }
//! }
//!
//! // Runners can be built on `&Unreliable`.
//! impl StandaloneBackend for Unreliable {}
//!
//! # pub async fn main() -> Result<()> {
//! use mq::{JobBuilder, JobRunnerOptions};
//!
//! let backend = Unreliable::default();
//! backend.set_down(true);
//! let id = JobBuilder::new("report").spawn(&backend).await?;
//!
//! let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
//! let _runner = JobRunnerOptions::new(&backend, move |mut job| {
//!     let done = done.clone();
//!     tokio::spawn(async move {
//!         job.complete().await.unwrap();
//!         done.send(job.id()).unwrap();
//!     });
//! })
//! .set_spawner(mq::default_spawner())
//! .run()
//! .await?;
//!
//! // The runner's claims fail until the database is back.
//! backend.set_down(false);
//! assert_eq!(finished.recv().await, Some(id));
//! # Ok(())
//! # }
//! # }
//! # #[cfg(feature = "runtime-tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> mq::Result<()> {
//! #     example::main().await
//! # }
//! # #[cfg(not(feature = "runtime-tokio"))]
//! # fn main() {}
//! ```

pub use async_trait::async_trait;
pub use futures::stream::{self, StreamExt};

/// The stream of wake-ups [`Backend::listen`] returns: futures' boxed
/// stream (an alias rather than a re-export, whose docs would carry a
/// feature of futures' own).
pub type BoxStream<'a, T> = futures::stream::BoxStream<'a, T>;
pub use mq_core::backend::*;
pub use mq_core::builder::NewJob;
pub use mq_core::registry::MAX_ERROR_TEXT;
pub use mq_core::{BackendExt, Error, Result, Spawner, StandaloneBackend, Uuid};
pub use time::OffsetDateTime;
