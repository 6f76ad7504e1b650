//! A driver's [`Backend`](mq_core::Backend), written once: the driver says
//! how to get a connection for one statement, how to migrate on a
//! connection of its own and how to listen ([`Database`]), and
//! [`sql_backend!`](crate::sql_backend) implements every other method with
//! the [`queries`](crate::queries).

use async_trait::async_trait;
use futures::stream::BoxStream;
use mq_core::Result;
use mq_core::backend::{ListenParams, Wakeup};

use crate::connection::Connection;

/// What a driver's backend type supplies for [`sql_backend!`](crate::sql_backend).
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// A connection for one call, taken from the driver's pool (and
    /// returned when dropped). `operation` names the call, for errors.
    async fn connection(&self, operation: &'static str) -> Result<Box<dyn Connection + '_>>;

    /// Applies the migrations ([`queries::migrate`](crate::queries::migrate))
    /// on a connection of the driver's own, in a transaction that rolls
    /// back if the call is dropped half-way.
    async fn migrate(&self) -> Result<()>;

    /// Wake-ups from `LISTEN` on a connection of the driver's own, its
    /// background work on `params.spawner`.
    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>>;
}

/// Implements [`mq_core::Backend`] for a driver's backend type, which
/// implements [`Database`]: every method takes a connection and runs the
/// query of the same name.
#[macro_export]
macro_rules! sql_backend {
    ($backend:ty) => {
        #[$crate::__private::async_trait]
        impl $crate::__private::Backend for $backend {
            async fn job_insert(
                &self,
                params: $crate::__private::JobInsertParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Spawned>> {
                let mut conn = $crate::Database::connection(self, "job_insert").await?;
                $crate::queries::job_insert(&mut *conn, params).await
            }

            async fn job_commit(
                &self,
                params: $crate::__private::JobCommitParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut conn = $crate::Database::connection(self, "job_commit").await?;
                $crate::queries::job_commit(&mut *conn, params).await
            }

            async fn job_claim(
                &self,
                params: $crate::__private::JobClaimParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::ClaimedJob>> {
                let mut conn = $crate::Database::connection(self, "job_claim").await?;
                $crate::queries::job_claim(&mut *conn, params).await
            }

            async fn job_complete(
                &self,
                params: $crate::__private::JobCompleteParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::JobLease, $crate::__private::LeaseOutcome)>,
            > {
                let mut conn = $crate::Database::connection(self, "job_complete").await?;
                $crate::queries::job_complete(&mut *conn, params).await
            }

            async fn job_fail(
                &self,
                params: $crate::__private::JobFailParams<'_>,
            ) -> $crate::__private::Result<
                Vec<(
                    $crate::__private::JobLease,
                    $crate::__private::JobFailOutcome,
                )>,
            > {
                let mut conn = $crate::Database::connection(self, "job_fail").await?;
                $crate::queries::job_fail(&mut *conn, params).await
            }

            async fn job_release(
                &self,
                params: $crate::__private::JobReleaseParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::JobLease, $crate::__private::LeaseOutcome)>,
            > {
                let mut conn = $crate::Database::connection(self, "job_release").await?;
                $crate::queries::job_release(&mut *conn, params).await
            }

            async fn job_keep_alive(
                &self,
                params: $crate::__private::JobKeepAliveParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::JobLease, $crate::__private::LeaseOutcome)>,
            > {
                let mut conn = $crate::Database::connection(self, "job_keep_alive").await?;
                $crate::queries::job_keep_alive(&mut *conn, params).await
            }

            async fn job_checkpoint(
                &self,
                params: $crate::__private::JobCheckpointParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut conn = $crate::Database::connection(self, "job_checkpoint").await?;
                $crate::queries::job_checkpoint(&mut *conn, params).await
            }

            async fn job_schedule(
                &self,
                params: $crate::__private::JobScheduleParams,
            ) -> $crate::__private::Result<$crate::__private::JobScheduleResult> {
                let mut conn = $crate::Database::connection(self, "job_schedule").await?;
                $crate::queries::job_schedule(&mut *conn, params).await
            }

            async fn job_get(
                &self,
                params: $crate::__private::JobGetParams,
            ) -> $crate::__private::Result<Option<$crate::__private::JobInfo>> {
                let mut conn = $crate::Database::connection(self, "job_get").await?;
                $crate::queries::job_get(&mut *conn, params).await
            }

            async fn job_list(
                &self,
                params: $crate::__private::JobListParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::JobSummary>> {
                let mut conn = $crate::Database::connection(self, "job_list").await?;
                $crate::queries::job_list(&mut *conn, params).await
            }

            async fn job_stats(
                &self,
                params: $crate::__private::JobStatsParams,
            ) -> $crate::__private::Result<$crate::__private::QueueStats> {
                let mut conn = $crate::Database::connection(self, "job_stats").await?;
                $crate::queries::job_stats(&mut *conn, params).await
            }

            async fn job_cancel(
                &self,
                params: $crate::__private::JobCancelParams<'_>,
            ) -> $crate::__private::Result<
                Vec<($crate::__private::Uuid, $crate::__private::CancelOutcome)>,
            > {
                let mut conn = $crate::Database::connection(self, "job_cancel").await?;
                $crate::queries::job_cancel(&mut *conn, params).await
            }

            async fn channel_pause(
                &self,
                params: $crate::__private::ChannelPauseParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut conn = $crate::Database::connection(self, "channel_pause").await?;
                $crate::queries::channel_pause(&mut *conn, params).await
            }

            async fn job_retry(
                &self,
                params: $crate::__private::JobRetryParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut conn = $crate::Database::connection(self, "job_retry").await?;
                $crate::queries::job_retry(&mut *conn, params).await
            }

            async fn job_delete(
                &self,
                params: $crate::__private::JobDeleteParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::Uuid>> {
                let mut conn = $crate::Database::connection(self, "job_delete").await?;
                $crate::queries::job_delete(&mut *conn, params).await
            }

            async fn channel_limit(
                &self,
                params: $crate::__private::ChannelLimitParams<'_>,
            ) -> $crate::__private::Result<bool> {
                let mut conn = $crate::Database::connection(self, "channel_limit").await?;
                $crate::queries::channel_limit(&mut *conn, params).await
            }

            async fn channel_limits(
                &self,
                params: $crate::__private::ChannelLimitsParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::LimitInfo>> {
                let mut conn = $crate::Database::connection(self, "channel_limits").await?;
                $crate::queries::channel_limits(&mut *conn, params).await
            }

            async fn job_claim_limited(
                &self,
                params: $crate::__private::JobClaimLimitedParams<'_>,
            ) -> $crate::__private::Result<Vec<$crate::__private::ClaimedJob>> {
                let mut conn = $crate::Database::connection(self, "job_claim_limited").await?;
                $crate::queries::job_claim_limited(&mut *conn, params).await
            }

            async fn schedule_declare(
                &self,
                params: $crate::__private::ScheduleDeclareParams<'_>,
            ) -> $crate::__private::Result<$crate::__private::ScheduleDeclared> {
                let mut conn = $crate::Database::connection(self, "schedule_declare").await?;
                $crate::queries::schedule_declare(&mut *conn, params).await
            }

            async fn schedule_fire(
                &self,
                params: $crate::__private::ScheduleFireParams<'_>,
            ) -> $crate::__private::Result<Option<Vec<$crate::__private::Spawned>>> {
                let mut conn = $crate::Database::connection(self, "schedule_fire").await?;
                $crate::queries::schedule_fire(&mut *conn, params).await
            }

            async fn schedule_release(
                &self,
                params: $crate::__private::ScheduleReleaseParams<'_>,
            ) -> $crate::__private::Result<()> {
                let mut conn = $crate::Database::connection(self, "schedule_release").await?;
                $crate::queries::schedule_release(&mut *conn, params).await
            }

            async fn schedule_list(
                &self,
                params: $crate::__private::ScheduleListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::ScheduleInfo>> {
                let mut conn = $crate::Database::connection(self, "schedule_list").await?;
                $crate::queries::schedule_list(&mut *conn, params).await
            }

            async fn activity_record(
                &self,
                params: $crate::__private::ActivityRecordParams<'_>,
            ) -> $crate::__private::Result<()> {
                let mut conn = $crate::Database::connection(self, "activity_record").await?;
                $crate::queries::activity_record(&mut *conn, params).await
            }

            async fn throughput_list(
                &self,
                params: $crate::__private::ThroughputListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::MinuteCount>> {
                let mut conn = $crate::Database::connection(self, "throughput_list").await?;
                $crate::queries::throughput_list(&mut *conn, params).await
            }

            async fn runner_list(
                &self,
                params: $crate::__private::RunnerListParams,
            ) -> $crate::__private::Result<Vec<$crate::__private::RunnerInfo>> {
                let mut conn = $crate::Database::connection(self, "runner_list").await?;
                $crate::queries::runner_list(&mut *conn, params).await
            }

            async fn migrate(
                &self,
                _params: $crate::__private::MigrateParams,
            ) -> $crate::__private::Result<()> {
                $crate::Database::migrate(self).await
            }

            async fn job_vacuum(
                &self,
                _params: $crate::__private::JobVacuumParams,
            ) -> $crate::__private::Result<bool> {
                let mut conn = $crate::Database::connection(self, "job_vacuum").await?;
                $crate::queries::job_vacuum(&mut *conn).await
            }

            async fn listen(
                &self,
                params: $crate::__private::ListenParams<'_>,
            ) -> $crate::__private::Result<
                $crate::__private::BoxStream<'static, $crate::__private::Wakeup>,
            > {
                $crate::Database::listen(self, params).await
            }
        }
    };
}
