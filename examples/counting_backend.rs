//! A backend of your own, written with `mq` alone (feature `testing`): a
//! wrapper that counts the calls made to each method of the backend it
//! wraps, here the in-memory one.
//!
//! `tests/counting_backend.rs` runs the conformance suite on it. Running
//! this example spawns a batch of jobs, runs them with a runner on the
//! wrapper, and prints how often each method was called; no database
//! needed:
//!
//! ```sh
//! cargo run --example counting_backend --features testing
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mq::testing::backend::*;

/// Counts the calls to each method of the backend it wraps, which does the
/// work.
#[derive(Clone, Default)]
pub struct CountingBackend<B> {
    inner: B,
    calls: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl<B> CountingBackend<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    /// How many times each method was called, by name.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap().clone()
    }

    fn count(&self, method: &'static str) {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
    }
}

#[async_trait]
impl<B: Backend> Backend for CountingBackend<B> {
    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>> {
        self.count("job_insert");
        self.inner.job_insert(params).await
    }

    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        self.count("job_commit");
        self.inner.job_commit(params).await
    }

    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
        self.count("job_claim");
        self.inner.job_claim(params).await
    }

    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        self.count("job_complete");
        self.inner.job_complete(params).await
    }

    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
        self.count("job_fail");
        self.inner.job_fail(params).await
    }

    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        self.count("job_release");
        self.inner.job_release(params).await
    }

    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        self.count("job_keep_alive");
        self.inner.job_keep_alive(params).await
    }

    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
        self.count("job_checkpoint");
        self.inner.job_checkpoint(params).await
    }

    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
        self.count("job_schedule");
        self.inner.job_schedule(params).await
    }

    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
        self.count("job_get");
        self.inner.job_get(params).await
    }

    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        self.count("job_list");
        self.inner.job_list(params).await
    }

    async fn job_stats(&self, params: JobStatsParams) -> Result<QueueStats> {
        self.count("job_stats");
        self.inner.job_stats(params).await
    }

    async fn job_cancel(&self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>> {
        self.count("job_cancel");
        self.inner.job_cancel(params).await
    }

    async fn channel_pause(&self, params: ChannelPauseParams<'_>) -> Result<bool> {
        self.count("channel_pause");
        self.inner.channel_pause(params).await
    }

    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        self.count("job_retry");
        self.inner.job_retry(params).await
    }

    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        self.count("job_delete");
        self.inner.job_delete(params).await
    }

    async fn channel_limit(&self, params: ChannelLimitParams<'_>) -> Result<bool> {
        self.count("channel_limit");
        self.inner.channel_limit(params).await
    }

    async fn channel_limits(&self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>> {
        self.count("channel_limits");
        self.inner.channel_limits(params).await
    }

    async fn job_claim_limited(
        &self,
        params: JobClaimLimitedParams<'_>,
    ) -> Result<Vec<ClaimedJob>> {
        self.count("job_claim_limited");
        self.inner.job_claim_limited(params).await
    }

    async fn schedule_declare(
        &self,
        params: ScheduleDeclareParams<'_>,
    ) -> Result<ScheduleDeclared> {
        self.count("schedule_declare");
        self.inner.schedule_declare(params).await
    }

    async fn schedule_fire(&self, params: ScheduleFireParams<'_>) -> Result<Option<Vec<Spawned>>> {
        self.count("schedule_fire");
        self.inner.schedule_fire(params).await
    }

    async fn schedule_release(&self, params: ScheduleReleaseParams<'_>) -> Result<()> {
        self.count("schedule_release");
        self.inner.schedule_release(params).await
    }

    async fn schedule_list(&self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>> {
        self.count("schedule_list");
        self.inner.schedule_list(params).await
    }

    async fn activity_record(&self, params: ActivityRecordParams<'_>) -> Result<()> {
        self.count("activity_record");
        self.inner.activity_record(params).await
    }

    async fn throughput_list(&self, params: ThroughputListParams) -> Result<Vec<MinuteCount>> {
        self.count("throughput_list");
        self.inner.throughput_list(params).await
    }

    async fn runner_list(&self, params: RunnerListParams) -> Result<Vec<RunnerInfo>> {
        self.count("runner_list");
        self.inner.runner_list(params).await
    }

    // The three methods with defaults: a wrapper must pass them on too, or
    // it would lose the wrapped backend's storage setup, vacuuming and
    // wake-ups.
    async fn migrate(&self, params: MigrateParams) -> Result<()> {
        self.count("migrate");
        self.inner.migrate(params).await
    }

    async fn job_vacuum(&self, params: JobVacuumParams) -> Result<bool> {
        self.count("job_vacuum");
        self.inner.job_vacuum(params).await
    }

    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        self.count("listen");
        self.inner.listen(params).await
    }
}

// Runners can be built on `&CountingBackend`; they take their runtime from
// `set_spawner`.
impl<B: Backend + Clone> StandaloneBackend for CountingBackend<B> {}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), mq::BoxError> {
    use mq::testing::MemoryBackend;
    use mq::{JobBuilder, JobRunnerOptions};

    let backend = CountingBackend::new(MemoryBackend::new());
    mq::migrate(&backend).await?;

    // One batch of jobs: one call to `job_insert`.
    let jobs: Vec<JobBuilder> = (0..100)
        .map(|n| {
            let mut job = JobBuilder::new("count");
            job.set_channel_name(if n % 2 == 0 { "even" } else { "odd" });
            job
        })
        .collect();
    mq::spawn_many(&backend, &jobs).await?;

    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let mut runner = JobRunnerOptions::new(&backend, move |mut job| {
        let done = done.clone();
        tokio::spawn(async move {
            job.complete().await.expect("completed");
            let _ = done.send(());
        });
    })
    .set_spawner(mq::default_spawner())
    .set_concurrency(10, 20)
    .run()
    .await?;
    for _ in 0..jobs.len() {
        finished.recv().await;
    }
    runner.stop().await;

    let calls = backend.calls();
    for (method, count) in &calls {
        println!("{method:>15}: {count}");
    }
    // Completions are written in batches: fewer calls than jobs.
    assert_eq!(calls["job_insert"], 1);
    assert!(calls["job_complete"] <= 100);
    assert!(!mq::exists(&backend, jobs[0].id()).await?);
    Ok(())
}
