//! A driver's [`Executor`](mq_core::Executor) impls, written once: the
//! driver turns each of its handle types into a [`Session`] (a connection
//! for one call, and what to do after it), and
//! [`sql_executor!`](crate::sql_executor) implements every call with the
//! [`queries`](crate::queries).

use async_trait::async_trait;
use futures::future::BoxFuture;
use mq_core::Result;

use crate::connection::{Connection, Pooling};

/// A connection for one call on a caller's handle, and what to do after
/// the call.
#[async_trait]
pub trait Session: Connection {
    /// Ends the call: commits the transaction if the handle was an owned
    /// one, returns a pooled connection; a borrowed connection or
    /// transaction is left to its owner.
    async fn finish(self: Box<Self>) -> Result<()>;
}

/// A driver handle the transactional calls run on (`&PgPool`, a
/// transaction...). `D` is the driver's marker, as in
/// [`Executor`](mq_core::Executor), so that a driver can implement this for
/// types it does not own.
pub trait IntoSession<'c, D>: Send {
    /// The session for one call.
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>>;
}

/// A handle whose connections go through a proxy in transaction pooling
/// mode, such as PgBouncer with `pool_mode = transaction`: mq's calls on it
/// use no prepared statement that outlives its transaction and leave no
/// setting behind (see [`Pooling::Transaction`]). Wrap the pool, a
/// connection or a transaction: `job.spawn(TransactionPooled(&pool))`.
#[derive(Debug)]
pub struct TransactionPooled<E>(pub E);

impl<'c, D, E: IntoSession<'c, D>> IntoSession<'c, D> for TransactionPooled<E> {
    fn into_session(self) -> BoxFuture<'c, Result<Box<dyn Session + 'c>>> {
        let session = self.0.into_session();
        Box::pin(async move {
            let mut session = session.await?;
            session.set_pooling(Pooling::Transaction);
            Ok(session)
        })
    }
}

/// Implements [`mq_core::Executor`] with the driver's marker for handle
/// types that implement [`IntoSession`]: every call opens a session, runs
/// the query of the same name, and finishes the session.
#[macro_export]
macro_rules! sql_executor {
    ($marker:ty; $([$($lt:lifetime),*] $handle:ty),+ $(,)?) => {$(
        $crate::sql_executor!(@impl $marker; [$($lt),*] $handle);
        $crate::sql_executor!(@impl $marker; [$($lt),*] $crate::TransactionPooled<$handle>);
    )+};
    (@impl $marker:ty; [$($lt:lifetime),*] $handle:ty) => {
        #[$crate::__private::async_trait]
        impl<$($lt),*> $crate::__private::Executor<$marker> for $handle {
            async fn job_insert(
                self,
                params: $crate::__private::JobInsertParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Spawned>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let spawned = $crate::queries::job_insert(&mut *session, params).await?;
                session.finish().await?;
                Ok(spawned)
            }
            async fn job_commit(
                self,
                params: $crate::__private::JobCommitParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let missing = $crate::queries::job_commit(&mut *session, params).await?;
                session.finish().await?;
                Ok(missing)
            }
            async fn job_complete(
                self,
                params: $crate::__private::JobCompleteParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::JobLease, $crate::__private::LeaseOutcome)>,
            > {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let done = $crate::queries::job_complete(&mut *session, params).await?;
                session.finish().await?;
                Ok(done)
            }
            async fn job_release(
                self,
                params: $crate::__private::JobReleaseParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::JobLease, $crate::__private::LeaseOutcome)>,
            > {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let released = $crate::queries::job_release(&mut *session, params).await?;
                session.finish().await?;
                Ok(released)
            }
            async fn job_checkpoint(
                self,
                params: $crate::__private::JobCheckpointParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let held = $crate::queries::job_checkpoint(&mut *session, params).await?;
                session.finish().await?;
                Ok(held)
            }
            async fn job_get(
                self,
                params: $crate::__private::JobGetParams,
            ) -> $crate::__private::Result<Option<$crate::__private::JobInfo>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let job = $crate::queries::job_get(&mut *session, params).await?;
                session.finish().await?;
                Ok(job)
            }
            async fn job_list(
                self,
                params: $crate::__private::JobListParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::JobSummary>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let jobs = $crate::queries::job_list(&mut *session, params).await?;
                session.finish().await?;
                Ok(jobs)
            }
            async fn job_stats(
                self,
                params: $crate::__private::JobStatsParams,
            ) -> $crate::__private::Result<$crate::__private::QueueStats> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let stats = $crate::queries::job_stats(&mut *session, params).await?;
                session.finish().await?;
                Ok(stats)
            }
            async fn schedule_list(
                self,
                params: $crate::__private::ScheduleListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::ScheduleInfo>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let schedules = $crate::queries::schedule_list(&mut *session, params).await?;
                session.finish().await?;
                Ok(schedules)
            }
            async fn throughput_list(
                self,
                params: $crate::__private::ThroughputListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::MinuteCount>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let counts = $crate::queries::throughput_list(&mut *session, params).await?;
                session.finish().await?;
                Ok(counts)
            }
            async fn runner_list(
                self,
                params: $crate::__private::RunnerListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::RunnerInfo>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let runners = $crate::queries::runner_list(&mut *session, params).await?;
                session.finish().await?;
                Ok(runners)
            }
            async fn channel_limit(
                self,
                params: $crate::__private::ChannelLimitParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let changed = $crate::queries::channel_limit(&mut *session, params).await?;
                session.finish().await?;
                Ok(changed)
            }
            async fn channel_limits(
                self,
                params: $crate::__private::ChannelLimitsParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::LimitInfo>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let limits = $crate::queries::channel_limits(&mut *session, params).await?;
                session.finish().await?;
                Ok(limits)
            }
            async fn job_cancel(
                self,
                params: $crate::__private::JobCancelParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::Uuid, $crate::__private::CancelOutcome)>,
            > {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let cancelled = $crate::queries::job_cancel(&mut *session, params).await?;
                session.finish().await?;
                Ok(cancelled)
            }
            async fn channel_pause(
                self,
                params: $crate::__private::ChannelPauseParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let changed = $crate::queries::channel_pause(&mut *session, params).await?;
                session.finish().await?;
                Ok(changed)
            }
            async fn job_retry(
                self,
                params: $crate::__private::JobRetryParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let retried = $crate::queries::job_retry(&mut *session, params).await?;
                session.finish().await?;
                Ok(retried)
            }
            async fn job_delete(
                self,
                params: $crate::__private::JobDeleteParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                let deleted = $crate::queries::job_delete(&mut *session, params).await?;
                session.finish().await?;
                Ok(deleted)
            }
            async fn migrate(
                self,
                _params: $crate::__private::MigrateParams,
            ) -> $crate::__private::Result<()> {
                let mut session = $crate::IntoSession::<'_, $marker>::into_session(self).await?;
                $crate::queries::migrate(&mut *session).await?;
                session.finish().await
            }
        }
    };
}
