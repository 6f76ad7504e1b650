//! A job completed in its own transaction (`complete_with_transaction`
//! given an owned transaction, which commits before the call returns) is
//! reported completed, even when the keep-alive looks for its lease between
//! the commit and the call's return and finds the row gone. That renewal
//! once took the job for lost: a warning "job was taken over by another
//! runner", a `lease_lost` outcome, and a cancel signal to the job, for a
//! job that had completed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mq::report::{JobOutcome, JobReport, RunnerMetrics};
use mq::testing::MemoryBackend;
use mq::testing::backend::*;
use mq::{JobBuilder, JobRunnerOptions};
use tokio::sync::Notify;

/// The in-memory backend, with completions held at a gate after they are
/// written, and keep-alives counted.
#[derive(Clone, Default)]
struct Gated {
    inner: MemoryBackend,
    hold: Arc<AtomicBool>,
    completed: Arc<Notify>,
    gate: Arc<Notify>,
    keep_alives: Arc<AtomicUsize>,
    kept_alive: Arc<Notify>,
}

impl StandaloneBackend for Gated {}

#[async_trait]
impl Backend for Gated {
    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>> {
        self.inner.job_insert(params).await
    }

    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        self.inner.job_commit(params).await
    }

    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
        self.inner.job_claim(params).await
    }

    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        let outcomes = self.inner.job_complete(params).await;
        // Completed (and, as an owned transaction would be, committed):
        // the call returns once the test opens the gate.
        if self.hold.load(Ordering::SeqCst) {
            self.completed.notify_one();
            self.gate.notified().await;
        }
        outcomes
    }

    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
        self.inner.job_fail(params).await
    }

    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        self.inner.job_release(params).await
    }

    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        let outcomes = self.inner.job_keep_alive(params).await;
        self.keep_alives.fetch_add(1, Ordering::SeqCst);
        self.kept_alive.notify_one();
        outcomes
    }

    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
        self.inner.job_checkpoint(params).await
    }

    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
        self.inner.job_schedule(params).await
    }

    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
        self.inner.job_get(params).await
    }

    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        self.inner.job_list(params).await
    }

    async fn job_stats(&self, params: JobStatsParams) -> Result<QueueStats> {
        self.inner.job_stats(params).await
    }

    async fn job_cancel(&self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>> {
        self.inner.job_cancel(params).await
    }

    async fn channel_pause(&self, params: ChannelPauseParams<'_>) -> Result<bool> {
        self.inner.channel_pause(params).await
    }

    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        self.inner.job_retry(params).await
    }

    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        self.inner.job_delete(params).await
    }

    async fn channel_limit(&self, params: ChannelLimitParams<'_>) -> Result<bool> {
        self.inner.channel_limit(params).await
    }

    async fn channel_limits(&self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>> {
        self.inner.channel_limits(params).await
    }

    async fn job_claim_limited(
        &self,
        params: JobClaimLimitedParams<'_>,
    ) -> Result<Vec<ClaimedJob>> {
        self.inner.job_claim_limited(params).await
    }

    async fn schedule_declare(
        &self,
        params: ScheduleDeclareParams<'_>,
    ) -> Result<ScheduleDeclared> {
        self.inner.schedule_declare(params).await
    }

    async fn schedule_fire(&self, params: ScheduleFireParams<'_>) -> Result<Option<Vec<Spawned>>> {
        self.inner.schedule_fire(params).await
    }

    async fn schedule_release(&self, params: ScheduleReleaseParams<'_>) -> Result<()> {
        self.inner.schedule_release(params).await
    }

    async fn schedule_list(&self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>> {
        self.inner.schedule_list(params).await
    }

    async fn activity_record(&self, params: ActivityRecordParams<'_>) -> Result<()> {
        self.inner.activity_record(params).await
    }

    async fn throughput_list(&self, params: ThroughputListParams) -> Result<Vec<MinuteCount>> {
        self.inner.throughput_list(params).await
    }

    async fn runner_list(&self, params: RunnerListParams) -> Result<Vec<RunnerInfo>> {
        self.inner.runner_list(params).await
    }

    // The three methods with defaults: a wrapper must pass them on too, or
    // it would lose the wrapped backend's storage setup, vacuuming and
    // wake-ups.
    async fn migrate(&self, params: MigrateParams) -> Result<()> {
        self.inner.migrate(params).await
    }

    async fn job_vacuum(&self, params: JobVacuumParams) -> Result<bool> {
        self.inner.job_vacuum(params).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        self.inner.listen(params).await
    }
}

/// The outcome of each attempt, by job.
#[derive(Default)]
struct Outcomes(Mutex<BTreeMap<Uuid, Vec<JobOutcome>>>);

impl RunnerMetrics for Outcomes {
    fn job_finished(&self, report: &JobReport<'_>) {
        self.0
            .lock()
            .unwrap()
            .entry(report.id)
            .or_default()
            .push(report.outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_after_the_commit_does_not_lose_a_completed_job() {
    let backend = Gated::default();
    let outcomes = Arc::new(Outcomes::default());
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    let result_tx = Arc::new(Mutex::new(Some(result_tx)));
    let (sleeper_running, sleeper_done) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let handle = (
        backend.clone(),
        sleeper_running.clone(),
        sleeper_done.clone(),
    );
    let mut runner = JobRunnerOptions::new(&backend, move |mut job| {
        let (backend, running, done) = handle.clone();
        let result_tx = result_tx.clone();
        tokio::spawn(async move {
            if job.name() == "sleeper" {
                // Runs while the other job completes, so that renewals are
                // made (for it) all along.
                running.notify_one();
                done.notified().await;
                job.complete().await.unwrap();
                return;
            }
            let result = job.complete_with_transaction(&backend).await;
            let cancelled = job.is_cancelled();
            if let Some(tx) = result_tx.lock().unwrap().take() {
                let _ = tx.send((result.map_err(|e| e.to_string()), cancelled));
            }
        });
    })
    .set_spawner(mq::default_spawner())
    // Renewals every 100 ms.
    .set_lease(Duration::from_millis(300))
    .set_metrics(outcomes.clone())
    .run()
    .await
    .unwrap();

    let sleeper = JobBuilder::new("sleeper").spawn(&backend).await.unwrap();
    sleeper_running.notified().await;
    backend.hold.store(true, Ordering::SeqCst);
    let id = JobBuilder::new("report").spawn(&backend).await.unwrap();
    backend.completed.notified().await;
    backend.hold.store(false, Ordering::SeqCst);
    // The row is gone; let a renewal run before the call returns.
    let renewals = backend.keep_alives.load(Ordering::SeqCst);
    while backend.keep_alives.load(Ordering::SeqCst) == renewals {
        backend.kept_alive.notified().await;
    }
    backend.gate.notify_one();

    let (result, cancelled) = result_rx.await.unwrap();
    assert_eq!(result, Ok(()));
    assert!(!cancelled, "the completed job was told to stop");
    sleeper_done.notify_one();
    assert!(runner.wait_jobs_finish(Duration::from_secs(10)).await);
    runner.stop().await;
    let outcomes = outcomes.0.lock().unwrap();
    assert_eq!(outcomes.get(&id), Some(&vec![JobOutcome::Completed]));
    assert_eq!(outcomes.get(&sleeper), Some(&vec![JobOutcome::Completed]));
    assert!(backend.inner.is_empty());
}
