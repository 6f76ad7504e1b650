//! Calls that join the caller's own connection or transaction, and what a
//! runner is built on.
//!
//! Spawning, completing, checkpointing, committing, migrating and the
//! [`admin`](crate::admin) calls take the driver's native handle (`&PgPool`,
//! `&mut PgConnection`, a transaction...) so that they happen atomically
//! with the application's own writes. [`Executor`] is implemented by each
//! driver for its handle types. The type parameter `D` is a marker type of
//! the driver: it lets a driver crate implement this trait for types it
//! does not own (the orphan rules allow `impl Executor<Sqlx> for &PgPool`
//! because `Sqlx` is local to the driver), and callers never name it: it
//! is inferred from the handle.
//!
//! [`IntoBackend`] is what a runner is built on: a pool the `mq` crate
//! pairs with the runtime its features chose, or a backend value.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::backend::{
    Backend, CancelOutcome, ChannelLimitParams, ChannelLimitsParams, ChannelPauseParams,
    JobCancelParams, JobCheckpointParams, JobCommitParams, JobCompleteParams, JobDeleteParams,
    JobGetParams, JobInfo, JobInsertParams, JobLease, JobListParams, JobReleaseParams,
    JobRetryParams, JobStatsParams, JobSummary, LeaseOutcome, LimitInfo, MigrateParams,
    MinuteCount, QueueStats, RunnerInfo, RunnerListParams, ScheduleInfo, ScheduleListParams,
    Spawned, ThroughputListParams,
};
use crate::error::Result;
use crate::spawner::Spawner;

/// A database handle that the transactional calls can run on. See the
/// [module docs](self). Each method is the [`Backend`] method of the same
/// name, on the handle's connection.
///
/// An implementation for a handle that owns a transaction (for example
/// `sqlx::Transaction`) commits it after the call; one for a borrowed
/// connection or transaction leaves committing to the caller.
#[async_trait]
pub trait Executor<D>: Send + Sized {
    /// See [`Backend::job_insert`].
    async fn job_insert(self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>>;
    /// See [`Backend::job_commit`].
    async fn job_commit(self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>>;
    /// See [`Backend::job_complete`].
    async fn job_complete(
        self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>>;
    /// See [`Backend::job_release`].
    async fn job_release(
        self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>>;
    /// See [`Backend::job_checkpoint`].
    async fn job_checkpoint(self, params: JobCheckpointParams<'_>) -> Result<bool>;
    /// See [`Backend::job_get`].
    async fn job_get(self, params: JobGetParams) -> Result<Option<JobInfo>>;
    /// See [`Backend::job_list`].
    async fn job_list(self, params: JobListParams<'_>) -> Result<Vec<JobSummary>>;
    /// See [`Backend::job_stats`].
    async fn job_stats(self, params: JobStatsParams) -> Result<QueueStats>;
    /// See [`Backend::schedule_list`].
    async fn schedule_list(self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>>;
    /// See [`Backend::throughput_list`].
    async fn throughput_list(self, params: ThroughputListParams) -> Result<Vec<MinuteCount>>;
    /// See [`Backend::runner_list`].
    async fn runner_list(self, params: RunnerListParams) -> Result<Vec<RunnerInfo>>;
    /// See [`Backend::channel_limit`].
    async fn channel_limit(self, params: ChannelLimitParams<'_>) -> Result<bool>;
    /// See [`Backend::channel_limits`].
    async fn channel_limits(self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>>;
    /// See [`Backend::channel_pause`].
    async fn channel_pause(self, params: ChannelPauseParams<'_>) -> Result<bool>;
    /// See [`Backend::job_cancel`].
    async fn job_cancel(self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>>;
    /// See [`Backend::job_retry`].
    async fn job_retry(self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>>;
    /// See [`Backend::job_delete`].
    async fn job_delete(self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>>;
    /// See [`Backend::migrate`].
    async fn migrate(self, params: MigrateParams) -> Result<()>;
}

/// Something a job runner can be built on: a driver's pool or backend
/// (which the `mq` crate pairs with the runtime its features chose), or a
/// [`Backend`] value. `D` is inferred, as for [`Executor`].
pub trait IntoBackend<D> {
    /// The backend the runner will use.
    fn into_backend(self) -> Arc<dyn Backend>;

    /// The runtime the runner runs on, if this comes paired with one.
    /// Without one, the runner needs
    /// [`set_spawner`](crate::JobRunnerOptions::set_spawner).
    fn spawner(&self) -> Option<Arc<dyn Spawner>> {
        None
    }
}

/// The marker for handles that are [`Backend`]s themselves (the in-memory
/// backend, or one of your own).
#[derive(Debug)]
pub enum Direct {}

#[async_trait]
impl<B: Backend + ?Sized> Executor<Direct> for &B {
    async fn job_insert(self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>> {
        Backend::job_insert(self, params).await
    }
    async fn job_commit(self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        Backend::job_commit(self, params).await
    }
    async fn job_complete(
        self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        Backend::job_complete(self, params).await
    }
    async fn job_release(
        self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        Backend::job_release(self, params).await
    }
    async fn job_checkpoint(self, params: JobCheckpointParams<'_>) -> Result<bool> {
        Backend::job_checkpoint(self, params).await
    }
    async fn job_get(self, params: JobGetParams) -> Result<Option<JobInfo>> {
        Backend::job_get(self, params).await
    }
    async fn job_list(self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        Backend::job_list(self, params).await
    }
    async fn job_stats(self, params: JobStatsParams) -> Result<QueueStats> {
        Backend::job_stats(self, params).await
    }
    async fn schedule_list(self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>> {
        Backend::schedule_list(self, params).await
    }
    async fn throughput_list(self, params: ThroughputListParams) -> Result<Vec<MinuteCount>> {
        Backend::throughput_list(self, params).await
    }
    async fn runner_list(self, params: RunnerListParams) -> Result<Vec<RunnerInfo>> {
        Backend::runner_list(self, params).await
    }
    async fn channel_limit(self, params: ChannelLimitParams<'_>) -> Result<bool> {
        Backend::channel_limit(self, params).await
    }
    async fn channel_limits(self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>> {
        Backend::channel_limits(self, params).await
    }
    async fn channel_pause(self, params: ChannelPauseParams<'_>) -> Result<bool> {
        Backend::channel_pause(self, params).await
    }
    async fn job_cancel(self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>> {
        Backend::job_cancel(self, params).await
    }
    async fn job_retry(self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        Backend::job_retry(self, params).await
    }
    async fn job_delete(self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        Backend::job_delete(self, params).await
    }
    async fn migrate(self, params: MigrateParams) -> Result<()> {
        Backend::migrate(self, params).await
    }
}

/// A [`Backend`] that runners use as it is, on the runtime given to
/// [`set_spawner`](crate::JobRunnerOptions::set_spawner). Implement it
/// (the impl is empty) for a backend of your own to build runners on
/// `&your_backend`. The drivers' backends do not: the `mq` crate pairs them
/// with a runtime, and so does it for its in-memory backend.
pub trait StandaloneBackend: Backend + Clone {}

impl<B: StandaloneBackend> IntoBackend<Direct> for &B {
    fn into_backend(self) -> Arc<dyn Backend> {
        Arc::new(self.clone())
    }
}

impl IntoBackend<Direct> for Arc<dyn Backend> {
    fn into_backend(self) -> Arc<dyn Backend> {
        self
    }
}
