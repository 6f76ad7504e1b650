//! The transactional calls on tokio-postgres's and deadpool's own handles.
//!
//! `&deadpool_postgres::Pool`, a pooled connection (`&Object`), a bare
//! `&tokio_postgres::Client`, and transactions of either crate (borrowed,
//! or owned and committed after the call) all implement
//! [`mq_core::Executor`].

use async_trait::async_trait;
use mq_core::backend::{
    JobCheckpointParams, JobClearParams, JobCommitParams, JobCompleteParams, JobDeleteParams,
    JobGetParams, JobInfo, JobInsertParams, JobLease, JobListParams, JobPruneParams,
    JobRetryParams, JobStateCount, JobStatsParams, JobSummary, LeaseOutcome,
};
use mq_core::{Executor, Result, Uuid};

use crate::TokioPostgres;
use crate::connection::Conn;
use crate::error::{at, pool_at};
use mq_sql::queries;

/// A connection to run one call on, and what to do after it.
enum Handle<'c> {
    /// Taken from a pool for the call, then returned.
    Pooled(deadpool_postgres::Object),
    /// The caller's connection or transaction; the caller commits.
    Borrowed(Conn<'c>),
    /// The caller's transaction, committed after the call.
    Owned(tokio_postgres::Transaction<'c>),
    /// The caller's deadpool transaction, committed after the call.
    OwnedPooled(deadpool_postgres::Transaction<'c>),
}

impl Handle<'_> {
    fn conn(&self) -> Conn<'_> {
        match self {
            Self::Pooled(client) => Conn::taken(client),
            Self::Borrowed(conn) => *conn,
            Self::Owned(tx) => Conn::transaction(tx),
            Self::OwnedPooled(tx) => Conn::pooled_transaction(tx),
        }
    }

    async fn finish(self) -> Result<()> {
        match self {
            Self::Owned(tx) => tx.commit().await.map_err(at("commit")),
            Self::OwnedPooled(tx) => tx.commit().await.map_err(at("commit")),
            Self::Pooled(_) | Self::Borrowed(_) => Ok(()),
        }
    }

    async fn migrate(self) -> Result<()> {
        match self {
            // A connection of our own gets a real transaction, rolled back
            // if the call is dropped half-way.
            Self::Pooled(mut client) => crate::backend::migrate_pooled(&mut client).await,
            handle => {
                queries::migrate(&mut handle.conn()).await?;
                handle.finish().await
            }
        }
    }
}

/// A handle that calls can run on.
trait IntoHandle<'c>: Send {
    fn into_handle(self) -> impl Future<Output = Result<Handle<'c>>> + Send;
}

impl<'c> IntoHandle<'c> for &'c deadpool_postgres::Pool {
    async fn into_handle(self) -> Result<Handle<'c>> {
        self.get()
            .await
            .map(Handle::Pooled)
            .map_err(pool_at("acquire"))
    }
}

impl<'c> IntoHandle<'c> for &'c deadpool_postgres::Object {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::pooled(self)))
    }
}

impl<'c, 't> IntoHandle<'c> for &'c deadpool_postgres::Transaction<'t> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::pooled_transaction(self)))
    }
}

impl<'c, 't> IntoHandle<'c> for &'c mut deadpool_postgres::Transaction<'t> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::pooled_transaction(self)))
    }
}

impl<'c> IntoHandle<'c> for deadpool_postgres::Transaction<'c> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::OwnedPooled(self))
    }
}

impl<'c> IntoHandle<'c> for &'c tokio_postgres::Client {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::client(self)))
    }
}

impl<'c, 't> IntoHandle<'c> for &'c tokio_postgres::Transaction<'t> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::transaction(self)))
    }
}

impl<'c, 't> IntoHandle<'c> for &'c mut tokio_postgres::Transaction<'t> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Borrowed(Conn::transaction(self)))
    }
}

impl<'c> IntoHandle<'c> for tokio_postgres::Transaction<'c> {
    async fn into_handle(self) -> Result<Handle<'c>> {
        Ok(Handle::Owned(self))
    }
}

/// Implements `Executor<TokioPostgres>` for handle types: every call opens
/// the handle's connection, runs the statement, then finishes the handle.
macro_rules! impl_executor {
    ($([$($lt:lifetime),*] $handle:ty),+ $(,)?) => {$(
        #[async_trait]
        impl<$($lt),*> Executor<TokioPostgres> for $handle {
            async fn job_insert(self, params: JobInsertParams<'_>) -> Result<()> {
                let handle = self.into_handle().await?;
                queries::job_insert(&mut handle.conn(), params).await?;
                handle.finish().await
            }
            async fn job_complete(self, params: JobCompleteParams<'_>) -> Result<Vec<(JobLease, LeaseOutcome)>> {
                let handle = self.into_handle().await?;
                let done = queries::job_complete(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(done)
            }
            async fn job_checkpoint(self, params: JobCheckpointParams<'_>) -> Result<bool> {
                let handle = self.into_handle().await?;
                let held = queries::job_checkpoint(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(held)
            }
            async fn job_commit(self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
                let handle = self.into_handle().await?;
                let missing = queries::job_commit(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(missing)
            }
            async fn job_clear(self, params: JobClearParams<'_>) -> Result<u64> {
                let handle = self.into_handle().await?;
                let cleared = queries::job_clear(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(cleared)
            }
            async fn job_exists(self, id: Uuid) -> Result<bool> {
                let handle = self.into_handle().await?;
                let exists = queries::job_exists(&mut handle.conn(), id).await?;
                handle.finish().await?;
                Ok(exists)
            }
            async fn job_get(self, params: JobGetParams) -> Result<Option<JobInfo>> {
                let handle = self.into_handle().await?;
                let job = queries::job_get(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(job)
            }
            async fn job_list(self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
                let handle = self.into_handle().await?;
                let jobs = queries::job_list(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(jobs)
            }
            async fn job_retry(self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
                let handle = self.into_handle().await?;
                let retried = queries::job_retry(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(retried)
            }
            async fn job_delete(self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
                let handle = self.into_handle().await?;
                let deleted = queries::job_delete(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(deleted)
            }
            async fn job_prune(self, params: JobPruneParams<'_>) -> Result<u64> {
                let handle = self.into_handle().await?;
                let pruned = queries::job_prune(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(pruned)
            }
            async fn job_stats(self, params: JobStatsParams) -> Result<Vec<JobStateCount>> {
                let handle = self.into_handle().await?;
                let stats = queries::job_stats(&mut handle.conn(), params).await?;
                handle.finish().await?;
                Ok(stats)
            }
            async fn migrate(self) -> Result<()> {
                self.into_handle().await?.migrate().await
            }
        }
    )+};
}

impl_executor!(
    ['c] &'c deadpool_postgres::Pool,
    ['c] &'c deadpool_postgres::Object,
    ['c, 't] &'c deadpool_postgres::Transaction<'t>,
    ['c, 't] &'c mut deadpool_postgres::Transaction<'t>,
    ['c] deadpool_postgres::Transaction<'c>,
    ['c] &'c tokio_postgres::Client,
    ['c, 't] &'c tokio_postgres::Transaction<'t>,
    ['c, 't] &'c mut tokio_postgres::Transaction<'t>,
    ['c] tokio_postgres::Transaction<'c>,
);
