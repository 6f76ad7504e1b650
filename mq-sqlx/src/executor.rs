//! The transactional calls on sqlx's own handles.
//!
//! `&PgPool`, `&mut PgConnection` (what `&mut *tx` and `&mut *conn` give),
//! `&mut Transaction` and an owned `Transaction` (committed after the call)
//! all implement [`mq_core::Executor`].

use std::ops::{Deref, DerefMut};

use async_trait::async_trait;
use mq_core::backend::{
    JobCheckpointParams, JobClearParams, JobCommitParams, JobCompleteParams, JobDeleteParams,
    JobGetParams, JobInfo, JobInsertParams, JobLease, JobListParams, JobPruneParams,
    JobRetryParams, JobStateCount, JobStatsParams, JobSummary, LeaseOutcome,
};
use mq_core::{Executor, Result, Uuid};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::Sqlx;
use crate::connection::SqlxConnection;
use crate::error::at;
use mq_sql::queries;

/// A connection to run one call on, and what to do after it.
enum Conn<'c> {
    /// Taken from a pool for the call, then returned.
    Pooled(PoolConnection<Postgres>),
    /// The caller's connection or transaction; the caller commits.
    Borrowed(&'c mut PgConnection),
    /// The caller's transaction, committed after the call.
    Owned(Transaction<'c, Postgres>),
}

impl Conn<'_> {
    async fn finish(self) -> Result<()> {
        match self {
            Self::Owned(tx) => tx.commit().await.map_err(at("commit")),
            Self::Pooled(_) | Self::Borrowed(_) => Ok(()),
        }
    }
}

impl Conn<'_> {
    /// The connection as the shared queries use it.
    fn connection(&mut self) -> SqlxConnection<&mut PgConnection> {
        let pooled = matches!(self, Self::Pooled(_));
        let conn: &mut PgConnection = self;
        if pooled {
            SqlxConnection::pooled(conn)
        } else {
            SqlxConnection::borrowed(conn)
        }
    }
}

impl Deref for Conn<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
            Self::Owned(tx) => tx,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
            Self::Owned(tx) => tx,
        }
    }
}

/// A sqlx handle that calls can run on.
trait IntoConn<'c>: Send {
    fn into_conn(self) -> impl Future<Output = Result<Conn<'c>>> + Send;
}

impl<'c> IntoConn<'c> for &'c PgPool {
    async fn into_conn(self) -> Result<Conn<'c>> {
        self.acquire()
            .await
            .map(Conn::Pooled)
            .map_err(at("acquire"))
    }
}

impl<'c> IntoConn<'c> for &'c mut PgConnection {
    async fn into_conn(self) -> Result<Conn<'c>> {
        Ok(Conn::Borrowed(self))
    }
}

impl<'c, 't> IntoConn<'c> for &'c mut Transaction<'t, Postgres> {
    async fn into_conn(self) -> Result<Conn<'c>> {
        Ok(Conn::Borrowed(self))
    }
}

impl<'c> IntoConn<'c> for Transaction<'c, Postgres> {
    async fn into_conn(self) -> Result<Conn<'c>> {
        Ok(Conn::Owned(self))
    }
}

/// Implements `Executor<Sqlx>` for handle types: every call opens the
/// handle's connection, runs the statement, then finishes the handle.
macro_rules! impl_executor {
    ($([$($lt:lifetime),*] $handle:ty),+ $(,)?) => {$(
        #[async_trait]
        impl<$($lt),*> Executor<Sqlx> for $handle {
            async fn job_insert(self, params: JobInsertParams<'_>) -> Result<()> {
                let mut conn = self.into_conn().await?;
                queries::job_insert(&mut conn.connection(), params).await?;
                conn.finish().await
            }
            async fn job_complete(self, params: JobCompleteParams<'_>) -> Result<Vec<(JobLease, LeaseOutcome)>> {
                let mut conn = self.into_conn().await?;
                let done = queries::job_complete(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(done)
            }
            async fn job_checkpoint(self, params: JobCheckpointParams<'_>) -> Result<bool> {
                let mut conn = self.into_conn().await?;
                let held = queries::job_checkpoint(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(held)
            }
            async fn job_commit(self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
                let mut conn = self.into_conn().await?;
                let missing = queries::job_commit(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(missing)
            }
            async fn job_clear(self, params: JobClearParams<'_>) -> Result<u64> {
                let mut conn = self.into_conn().await?;
                let cleared = queries::job_clear(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(cleared)
            }
            async fn job_exists(self, id: Uuid) -> Result<bool> {
                let mut conn = self.into_conn().await?;
                let exists = queries::job_exists(&mut conn.connection(), id).await?;
                conn.finish().await?;
                Ok(exists)
            }
            async fn job_get(self, params: JobGetParams) -> Result<Option<JobInfo>> {
                let mut conn = self.into_conn().await?;
                let job = queries::job_get(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(job)
            }
            async fn job_list(self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
                let mut conn = self.into_conn().await?;
                let jobs = queries::job_list(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(jobs)
            }
            async fn job_retry(self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
                let mut conn = self.into_conn().await?;
                let retried = queries::job_retry(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(retried)
            }
            async fn job_delete(self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
                let mut conn = self.into_conn().await?;
                let deleted = queries::job_delete(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(deleted)
            }
            async fn job_prune(self, params: JobPruneParams<'_>) -> Result<u64> {
                let mut conn = self.into_conn().await?;
                let pruned = queries::job_prune(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(pruned)
            }
            async fn job_stats(self, params: JobStatsParams) -> Result<Vec<JobStateCount>> {
                let mut conn = self.into_conn().await?;
                let stats = queries::job_stats(&mut conn.connection(), params).await?;
                conn.finish().await?;
                Ok(stats)
            }
            async fn migrate(self) -> Result<()> {
                let mut conn = self.into_conn().await?;
                queries::migrate(&mut conn.connection()).await?;
                conn.finish().await
            }
        }
    )+};
}

impl_executor!(
    ['c] &'c PgPool,
    ['c] &'c mut PgConnection,
    ['c, 't] &'c mut Transaction<'t, Postgres>,
    ['c] Transaction<'c, Postgres>,
);
