//! [`TokioPostgresBackend`]: the runner's backend over a deadpool pool.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use futures::stream::BoxStream;
use mq_core::backend::{
    Backend, ClaimedJob, JobCheckpointParams, JobClaimParams, JobClearParams, JobCommitParams,
    JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams, JobGetParams, JobInfo,
    JobInsertParams, JobKeepAliveParams, JobLease, JobListParams, JobPruneParams, JobReleaseParams,
    JobRetryParams, JobScheduleParams, JobScheduleResult, JobState, JobStateCount, JobStatsParams,
    JobSummary, LeaseOutcome, Wakeup,
};
use mq_core::{Result, Spawner, Uuid};

use crate::connection::Conn;
use crate::error::{at, pool_at};
use crate::listen::{self, Connect};
use mq_sql::queries;

/// The tokio-postgres driver's [`Backend`]: every call takes a connection
/// from a deadpool pool for one statement (prepared once per connection and
/// cached), and wake-ups come from `LISTEN` on a connection of its own.
///
/// A runner is built on this backend (`registry.runner(&backend)`), the
/// transactional calls take the pool or your own connections and
/// transactions (see the [crate docs](crate)). Cloning is cheap: clones
/// share the pool.
#[derive(Clone)]
pub struct TokioPostgresBackend {
    pool: Pool,
    connect: Arc<dyn Connect>,
    spawner: Arc<dyn Spawner>,
}

impl std::fmt::Debug for TokioPostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioPostgresBackend")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

#[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
impl TokioPostgresBackend {
    /// A backend on `pool` whose runners listen for wake-ups on a
    /// connection of their own opened with `listen_config` without TLS.
    ///
    /// `listen_config` is normally the config the pool was built with:
    /// deadpool does not give it back, so it is asked for here.
    ///
    /// Runners run on the runtime of this crate's feature; built for tokio
    /// and async-std both, on tokio when this is called inside a tokio
    /// runtime and on async-std otherwise.
    pub fn new(pool: Pool, listen_config: tokio_postgres::Config) -> Self {
        Self::with_tls(pool, listen_config, tokio_postgres::NoTls)
    }

    /// Like [`new`](Self::new), with a TLS connector for the wake-up
    /// connection (the one you gave the pool, for example a
    /// `tokio_postgres_rustls::MakeRustlsConnect`).
    pub fn with_tls<T: crate::MakeTls>(
        pool: Pool,
        listen_config: tokio_postgres::Config,
        tls: T,
    ) -> Self {
        let (connect, spawner) = crate::connect::listen_connector(listen_config, tls);
        Self {
            pool,
            connect,
            spawner,
        }
    }
}

impl TokioPostgresBackend {
    /// The same backend, running its runners (and its wake-up connection)
    /// on `spawner` instead.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> Self {
        self.spawner = spawner;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self, operation: &'static str) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_at(operation))
    }
}

#[async_trait]
impl Backend for TokioPostgresBackend {
    fn spawner(&self) -> Arc<dyn Spawner> {
        self.spawner.clone()
    }

    async fn migrate(&self) -> Result<()> {
        migrate_pooled(&mut self.client("migrate").await?).await
    }

    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<()> {
        queries::job_insert(&mut Conn::taken(&self.client("job_insert").await?), params).await
    }

    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
        queries::job_claim(&mut Conn::taken(&self.client("job_claim").await?), params).await
    }

    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_complete(
            &mut Conn::taken(&self.client("job_complete").await?),
            params,
        )
        .await
    }

    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
        queries::job_fail(&mut Conn::taken(&self.client("job_fail").await?), params).await
    }

    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_release(&mut Conn::taken(&self.client("job_release").await?), params).await
    }

    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        queries::job_keep_alive(
            &mut Conn::taken(&self.client("job_keep_alive").await?),
            params,
        )
        .await
    }

    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
        queries::job_checkpoint(
            &mut Conn::taken(&self.client("job_checkpoint").await?),
            params,
        )
        .await
    }

    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_commit(&mut Conn::taken(&self.client("job_commit").await?), params).await
    }

    async fn job_clear(&self, params: JobClearParams<'_>) -> Result<u64> {
        queries::job_clear(&mut Conn::taken(&self.client("job_clear").await?), params).await
    }

    async fn job_exists(&self, id: Uuid) -> Result<bool> {
        queries::job_exists(&mut Conn::taken(&self.client("job_exists").await?), id).await
    }

    async fn job_state(&self, id: Uuid) -> Result<Option<JobState>> {
        queries::job_state(&mut Conn::taken(&self.client("job_state").await?), id).await
    }

    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
        queries::job_get(&mut Conn::taken(&self.client("job_get").await?), params).await
    }

    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        queries::job_list(&mut Conn::taken(&self.client("job_list").await?), params).await
    }

    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_retry(&mut Conn::taken(&self.client("job_retry").await?), params).await
    }

    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        queries::job_delete(&mut Conn::taken(&self.client("job_delete").await?), params).await
    }

    async fn job_prune(&self, params: JobPruneParams<'_>) -> Result<u64> {
        queries::job_prune(&mut Conn::taken(&self.client("job_prune").await?), params).await
    }

    async fn job_stats(&self, params: JobStatsParams) -> Result<Vec<JobStateCount>> {
        queries::job_stats(&mut Conn::taken(&self.client("job_stats").await?), params).await
    }

    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
        queries::job_schedule(
            &mut Conn::taken(&self.client("job_schedule").await?),
            params,
        )
        .await
    }

    async fn job_vacuum(&self) -> Result<bool> {
        queries::job_vacuum(&mut Conn::taken(&self.client("job_vacuum").await?)).await
    }

    async fn listen(&self) -> Result<BoxStream<'static, Wakeup>> {
        listen::listen(self.connect.clone(), self.spawner.clone()).await
    }
}

/// Migrates on a pooled connection this driver owns: in a
/// `deadpool_postgres::Transaction`, rolled back if the future is dropped
/// half-way, so that the connection goes back to the pool clean.
pub(crate) async fn migrate_pooled(client: &mut deadpool_postgres::Object) -> Result<()> {
    let tx = client.transaction().await.map_err(at("migrate"))?;
    queries::migrate(&mut Conn::pooled_transaction(&tx)).await?;
    tx.commit().await.map_err(at("migrate"))
}
