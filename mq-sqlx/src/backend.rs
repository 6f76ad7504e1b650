//! [`SqlxBackend`]: the runner's backend over a `PgPool`.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use mq_core::backend::{
    Backend, ClaimedJob, JobCheckpointParams, JobClaimParams, JobClearParams, JobCommitParams,
    JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams, JobGetParams, JobInfo,
    JobInsertParams, JobKeepAliveParams, JobLease, JobListParams, JobPruneParams, JobReleaseParams,
    JobRetryParams, JobScheduleParams, JobScheduleResult, JobState, JobStateCount, JobStatsParams,
    JobSummary, LeaseOutcome, Wakeup,
};
use mq_core::{IntoBackend, Result, Spawner, Uuid};
use sqlx::PgPool;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::connection::SqlxConnection;
use crate::error::at;
use crate::{Sqlx, listen};
use mq_sql::queries;

/// The sqlx driver's [`Backend`]: every call takes a connection from the
/// pool for one statement.
#[derive(Clone)]
pub struct SqlxBackend {
    pool: PgPool,
    spawner: Arc<dyn Spawner>,
}

impl std::fmt::Debug for SqlxBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlxBackend")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl SqlxBackend {
    /// A backend on `pool` whose runners run on the runtime sqlx was built
    /// for (the `runtime-*` features of this crate). With both runtimes,
    /// tokio when this is called inside a tokio runtime, async-std
    /// otherwise.
    #[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
    pub fn new(pool: PgPool) -> Self {
        Self::with_spawner(pool, crate::default_spawner())
    }

    /// A backend on `pool` whose runners run on `spawner`.
    pub fn with_spawner(pool: PgPool, spawner: Arc<dyn Spawner>) -> Self {
        Self { pool, spawner }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn conn(
        &self,
        operation: &'static str,
    ) -> Result<SqlxConnection<PoolConnection<Postgres>>> {
        self.pool
            .acquire()
            .await
            .map(SqlxConnection::pooled)
            .map_err(at(operation))
    }
}

#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
impl IntoBackend<Sqlx> for &PgPool {
    fn into_backend(self) -> Arc<dyn Backend> {
        Arc::new(SqlxBackend::new(self.clone()))
    }
}

#[async_trait]
impl Backend for SqlxBackend {
    fn spawner(&self) -> Arc<dyn Spawner> {
        self.spawner.clone()
    }

    async fn migrate(&self) -> Result<()> {
        queries::migrate(&mut self.conn("migrate").await?).await
    }

    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<()> {
        queries::job_insert(&mut self.conn("job_insert").await?, params).await
    }

    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
        queries::job_claim(&mut self.conn("job_claim").await?, params).await
    }

    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_complete(&mut self.conn("job_complete").await?, params).await
    }

    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
        queries::job_fail(&mut self.conn("job_fail").await?, params).await
    }

    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_release(&mut self.conn("job_release").await?, params).await
    }

    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_keep_alive(&mut self.conn("job_keep_alive").await?, params).await
    }

    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
        queries::job_checkpoint(&mut self.conn("job_checkpoint").await?, params).await
    }

    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_commit(&mut self.conn("job_commit").await?, params).await
    }

    async fn job_clear(&self, params: JobClearParams<'_>) -> Result<u64> {
        queries::job_clear(&mut self.conn("job_clear").await?, params).await
    }

    async fn job_exists(&self, id: Uuid) -> Result<bool> {
        queries::job_exists(&mut self.conn("job_exists").await?, id).await
    }

    async fn job_state(&self, id: Uuid) -> Result<Option<JobState>> {
        queries::job_state(&mut self.conn("job_state").await?, id).await
    }

    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
        queries::job_get(&mut self.conn("job_get").await?, params).await
    }

    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        queries::job_list(&mut self.conn("job_list").await?, params).await
    }

    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_retry(&mut self.conn("job_retry").await?, params).await
    }

    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_delete(&mut self.conn("job_delete").await?, params).await
    }

    async fn job_prune(&self, params: JobPruneParams<'_>) -> Result<u64> {
        queries::job_prune(&mut self.conn("job_prune").await?, params).await
    }

    async fn job_stats(&self, params: JobStatsParams) -> Result<Vec<JobStateCount>> {
        queries::job_stats(&mut self.conn("job_stats").await?, params).await
    }

    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
        queries::job_schedule(&mut self.conn("job_schedule").await?, params).await
    }

    async fn job_vacuum(&self) -> Result<bool> {
        queries::job_vacuum(&mut self.conn("job_vacuum").await?).await
    }

    async fn listen(&self) -> Result<BoxStream<'static, Wakeup>> {
        listen::listen(&self.pool, self.spawner.clone()).await
    }
}
